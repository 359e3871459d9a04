"""The guard: key, text, region, budget and rate rules, approvals, history; a fuzz against it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from actions.coords import ScreenFrame
from actions.desktop import RecordingExecutor
from actions.errors import ActionError, GuardRejected
from actions.guard import DEFAULT_DENY_HOTKEYS, Guard, GuardConfig, action_points, combo
from actions.keys import NAMED_KEYS
from actions.schema import (
    ActionBase,
    Click,
    Done,
    DoubleClick,
    Drag,
    EEDelta,
    Fail,
    Hotkey,
    Key,
    Move,
    PointTarget,
    RightClick,
    Scroll,
    TypeText,
    Wait,
)

FRAME = ScreenFrame(width=800, height=600)
REGION = (0.4, 0.4, 0.6, 0.6)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def no_limits(**kwargs: object) -> GuardConfig:
    return GuardConfig(max_actions=None, max_actions_per_s=None, **kwargs)


@pytest.mark.parametrize(
    "keys",
    [
        ("ctrl", "alt", "delete"),
        ("del", "alt", "control"),
        ("alt", "ctrl", "del"),
        ("super", "l"),
        ("meta", "L"),
        ("win", "l"),
        ("ctrl", "alt", "backspace"),
        ("alt", "f4"),
        ("cmd", "q"),
        ("command", "shift", "q"),  # holds command+q: extra keys do not get past
        ("ctrl", "shift", "alt", "del"),
        ("option", "cmd", "esc"),
        ("ctrl", "alt", "f3"),
    ],
)
def test_default_config_denies_session_hotkeys_in_any_order(keys: tuple[str, ...]) -> None:
    decision = Guard().check(Hotkey(keys=keys), FRAME)
    assert not decision.allowed
    assert "deny_hotkeys" in decision.reason


@pytest.mark.parametrize("keys", [("ctrl", "c"), ("ctrl", "l"), ("alt", "tab"), ("win", "d")])
def test_default_config_allows_everyday_hotkeys(keys: tuple[str, ...]) -> None:
    assert Guard().check(Hotkey(keys=keys)).executable


def test_deny_hotkeys_accepts_strings_lists_and_aliases() -> None:
    a = GuardConfig(deny_hotkeys=["ctrl+alt+del", ["super", "l"], "Control++"])
    b = GuardConfig(deny_hotkeys=[("delete", "ctrl", "alt"), "l+win", ("ctrl", "+")])
    assert (
        a.deny_hotkeys == b.deny_hotkeys == (("alt", "ctrl", "delete"), ("win", "l"), ("ctrl", "+"))
    )
    assert not Guard(a).check(Hotkey(keys=("ctrl", "+"))).allowed
    assert Guard(a).check(Hotkey(keys=("alt", "f4"))).allowed  # the defaults were replaced


def test_default_deny_hotkeys_are_normalised() -> None:
    assert len(GuardConfig().deny_hotkeys) == len(DEFAULT_DENY_HOTKEYS)
    assert ("win", "l") in GuardConfig().deny_hotkeys
    assert all(k in NAMED_KEYS or len(k) == 1 for c in GuardConfig().deny_hotkeys for k in c)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("deny_hotkeys", ["ctrl+alt+dle"], "unknown key 'dle'"),
        ("deny_hotkeys", ["printscreen"], "single keys; put them in deny_keys"),
        ("deny_hotkeys", "ctrl+alt+del", "takes a list"),
        ("deny_keys", ["hyper"], "unknown key 'hyper'"),
        ("allow_keys", ["ctrl+"], "unknown key"),
        ("forbidden_regions", [(0.5, 0.5, 0.4, 0.6)], "0 <= x0 < x1 <= 1"),
        ("forbidden_regions", [(0.1, 0.2, 1.5, 0.6)], "0 <= x0 < x1 <= 1"),
        ("forbidden_regions", [(0.1, 0.2, 0.3)], "must be 4 numbers"),
        ("forbidden_regions", (0.1, 0.2, 0.3, 0.4), "must be 4 numbers"),
        ("deny_text", ["rm (-rf"], "'rm (-rf' is not a regex"),
        ("max_actions", 0, "greater than or equal to 1"),
        ("max_actions_per_s", 0, "greater than or equal to 1"),
        ("dry_runn", True, "Extra inputs are not permitted"),
    ],
)
def test_config_names_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=field) as err:
        GuardConfig(**{field: value})
    assert message in str(err.value)


def test_combo_is_order_insensitive_and_canonical() -> None:
    assert combo("Ctrl+Alt+Del") == combo(["del", "alt", "ctrl"]) == ("alt", "ctrl", "delete")
    assert combo("c+shift+ctrl") == ("ctrl", "shift", "c")
    assert combo("+") == ("+",)
    with pytest.raises(ValueError, match="not a key or hotkey"):
        combo([])


def test_deny_keys_refuses_the_key_alone_and_in_hotkeys() -> None:
    guard = Guard(no_limits(deny_keys=["prtsc", "win"]))
    assert not guard.check(Key(key="printscreen")).allowed
    refused = guard.check(Hotkey(keys=("alt", "printscreen")))
    assert not refused.allowed
    assert "printscreen" in refused.reason
    assert not guard.check(Key(key="super")).allowed
    assert guard.check(Key(key="enter")).allowed


def test_allow_list_admits_only_its_keys_and_hotkeys() -> None:
    guard = Guard(no_limits(allow_keys=["enter", "Tab", "ctrl+c", ["v", "ctrl"]]))
    for action in (Key(key="enter"), Key(key="tab"), Hotkey(keys=("ctrl", "c"))):
        assert guard.check(action).allowed, action
    assert guard.check(Hotkey(keys=("ctrl", "v"))).allowed
    for action in (Key(key="escape"), Hotkey(keys=("ctrl", "shift", "c"))):
        decision = guard.check(action)
        assert not decision.allowed
        assert "allow_keys (ctrl+c, ctrl+v, enter, tab)" in decision.reason
    assert guard.check(Click(x=0.5, y=0.5)).allowed  # the allow-list is about keys only


def test_deny_wins_over_allow() -> None:
    guard = Guard(GuardConfig(allow_keys=["alt+f4"]))
    assert not guard.check(Hotkey(keys=("alt", "f4"))).allowed


@pytest.mark.parametrize(
    "action",
    [
        Click(x=0.5, y=0.5),
        DoubleClick(x=0.4, y=0.4),  # edges belong to the region
        RightClick(x=0.6, y=0.6),
        Move(x=0.45, y=0.55),
        Scroll(x=0.5, y=0.5, dy=3),
        Drag(x=0.5, y=0.5, to_x=0.9, to_y=0.9),
        Drag(x=0.2, y=0.1, to_x=0.5, to_y=0.5),
        PointTarget(x=0.5, y=0.41),
    ],
)
def test_pointer_actions_inside_a_forbidden_region_are_refused(action: ActionBase) -> None:
    guard = Guard(GuardConfig(forbidden_regions=[(0.0, 0.0, 0.1, 0.1), REGION]))
    decision = guard.check(action, FRAME)
    assert not decision.allowed
    assert "forbidden region 1 (0.4, 0.4, 0.6, 0.6)" in decision.reason


@pytest.mark.parametrize(
    "action",
    [
        Click(x=0.39, y=0.5),
        Drag(x=0.2, y=0.5, to_x=0.8, to_y=0.5),  # only the ends count, not the path
        Scroll(x=0.7, y=0.5, dx=-2),
        TypeText(text="hello"),
        EEDelta(dx=0.5),
    ],
)
def test_actions_outside_forbidden_regions_pass(action: ActionBase) -> None:
    assert Guard(GuardConfig(forbidden_regions=[REGION])).check(action, FRAME).executable


def test_points_the_frame_cannot_map_are_refused() -> None:
    forged = Click.model_construct(x=1.5, y=0.5)  # skips validation, as a buggy caller might
    decision = Guard().check(forged, FRAME)
    assert not decision.allowed
    assert "outside the image" in decision.reason
    assert Guard().check(forged).allowed  # without a frame only the rules apply


def test_deny_text_patterns() -> None:
    guard = Guard(no_limits(deny_text=[r"(?i)\brm\s+-rf\b", r"password\s*="]))
    refused = guard.check(TypeText(text="sudo RM -rf /"))
    assert not refused.allowed
    assert "deny_text pattern" in refused.reason
    assert not guard.check(TypeText(text="password = hunter2")).allowed
    assert guard.check(TypeText(text="rm file.txt")).allowed


def test_max_actions_spends_the_budget_but_done_and_fail_pass() -> None:
    guard = Guard(GuardConfig(max_actions=3, max_actions_per_s=None))
    actions = [Click(x=0.1, y=0.1), TypeText(text="a"), Key(key="enter"), Wait(seconds=0)]
    decisions = [guard.check(a) for a in actions]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert "budget of 3 actions" in decisions[-1].reason
    assert not guard.check(EEDelta(dz=0.1)).allowed  # robot actions count too
    assert guard.check(Done()).allowed and guard.check(Fail(reason="stuck")).allowed
    guard.reset()
    assert guard.check(Click(x=0.1, y=0.1)).allowed


def test_rejected_actions_do_not_spend_the_budget() -> None:
    guard = Guard(GuardConfig(max_actions=1, max_actions_per_s=None))
    assert not guard.check(Hotkey(keys=("alt", "f4"))).allowed
    assert guard.check(Key(key="f4")).allowed


def test_rate_limit_with_a_fake_clock() -> None:
    clock = FakeClock()
    guard = Guard(GuardConfig(max_actions_per_s=2), clock=clock)
    assert guard.check(Click(x=0.1, y=0.1)).allowed
    clock.now += 0.5
    assert guard.check(Click(x=0.1, y=0.1)).allowed
    clock.now += 0.4
    refused = guard.check(Click(x=0.1, y=0.1))
    assert not refused.allowed
    assert "more than 2 actions in the last second" in refused.reason
    assert guard.check(Done()).allowed  # terminal actions are never held back
    clock.now += 0.11  # the first click left the window
    assert guard.check(Click(x=0.1, y=0.1)).allowed
    assert not guard.check(Click(x=0.1, y=0.1)).allowed
    clock.now += 1.0
    assert guard.check(Click(x=0.1, y=0.1)).allowed


def test_approval_rules_mark_allowed_actions() -> None:
    def typing(a: ActionBase) -> str | None:
        return "typing needs a human" if isinstance(a, TypeText) else None

    def long_text(a: ActionBase) -> str | None:
        return "long text" if isinstance(a, TypeText) and len(a.text) > 5 else None

    guard = Guard(GuardConfig(deny_text=["secret"]), require_approval=[typing, long_text])
    held = guard.check(TypeText(text="hello world"))
    assert held.allowed and held.needs_approval and not held.executable
    assert held.reason == "typing needs a human; long text"
    assert guard.check(TypeText(text="hi")).reason == "typing needs a human"
    plain = guard.check(Click(x=0.2, y=0.2))
    assert plain.executable and plain.reason is None
    refused = guard.check(TypeText(text="the secret"))  # refusal comes first
    assert not refused.allowed and not refused.needs_approval


def test_dry_run_is_exposed() -> None:
    assert Guard(GuardConfig(dry_run=True)).dry_run
    assert not Guard().dry_run


def test_history_records_every_decision_until_reset() -> None:
    guard = Guard(GuardConfig(forbidden_regions=[REGION]))
    actions = [Click(x=0.5, y=0.5), Click(x=0.1, y=0.1), Hotkey(keys=("ctrl", "alt", "t")), Done()]
    decisions = [guard.check(a, FRAME) for a in actions]
    assert guard.history == decisions
    assert [d.action for d in guard.history] == actions
    assert [d.allowed for d in guard.history] == [False, True, False, True]
    guard.reset()
    assert guard.history == []


def test_guard_rejected_carries_the_decision() -> None:
    decision = Guard().check(Hotkey(keys=("alt", "f4")))
    err = GuardRejected(decision)
    assert isinstance(err, ActionError)
    assert err.decision is decision
    assert str(err).startswith('hotkey("alt", "f4") is refused by the guard: hotkey alt+f4')


def test_action_points() -> None:
    assert action_points(Drag(x=0.1, y=0.2, to_x=0.3, to_y=0.4)) == ((0.1, 0.2), (0.3, 0.4))
    assert action_points(PointTarget(x=0.5, y=0.6)) == ((0.5, 0.6),)
    assert action_points(Key(key="a")) == ()


# -- fuzz: whatever an agent sends, nothing the guard refuses is executed -----------------------
unit = st.floats(0.0, 1.0)
keys = st.sampled_from(["ctrl", "alt", "shift", "win", "command", "option"])
finals = st.sampled_from(["delete", "l", "q", "f4", "t", "escape", "backspace", "c", "enter"])
ACTIONS = st.one_of(
    st.builds(Click, x=unit, y=unit),
    st.builds(DoubleClick, x=unit, y=unit),
    st.builds(RightClick, x=unit, y=unit),
    st.builds(Move, x=unit, y=unit),
    st.builds(Drag, x=unit, y=unit, to_x=unit, to_y=unit),
    st.builds(Scroll, x=unit, y=unit, dy=st.sampled_from([-3, 1, 5])),
    st.builds(TypeText, text=st.sampled_from(["hello", "rm -rf /", "ok", "RM -RF ~"])),
    st.builds(Key, key=st.sampled_from(["enter", "tab", "printscreen", "win", "a"])),
    st.builds(
        lambda mods, last: Hotkey(keys=(*mods, last)),
        st.lists(keys, min_size=1, max_size=3, unique=True),
        finals,
    ),
    st.builds(Wait, seconds=st.just(0.0)),
    st.builds(Done),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(ACTIONS, max_size=40), st.lists(st.floats(0.0, 0.3), min_size=40, max_size=40))
def test_fuzz_only_allowed_actions_reach_the_executor(
    actions: list[ActionBase], gaps: list[float]
) -> None:
    clock = FakeClock()
    config = GuardConfig(
        forbidden_regions=[REGION, (0.0, 0.9, 1.0, 1.0)],
        deny_keys=["printscreen"],
        deny_text=[r"(?i)rm -rf"],
        max_actions=25,
        max_actions_per_s=5,
    )
    guard, executor = Guard(config, clock=clock), RecordingExecutor()
    for action, gap in zip(actions, gaps, strict=False):
        clock.now += gap
        if guard.check(action, FRAME).executable:
            executor.execute(action, FRAME)
    ran = [a for a, _ in executor.records]
    assert ran == [d.action for d in guard.history if d.executable]
    assert len([a for a in ran if not a.terminal]) <= 25
    for action in ran:  # the rules, checked again independently of the guard's code
        for x, y in action_points(action):
            assert not (0.4 <= x <= 0.6 and 0.4 <= y <= 0.6) and y < 0.9
        if isinstance(action, Hotkey):
            held = set(action.keys)
            assert not ({"ctrl", "alt", "delete"} <= held or {"win", "l"} <= held)
            assert not ({"alt", "f4"} <= held or {"command", "q"} <= held)
        assert not (isinstance(action, Key) and action.key == "printscreen")
        assert not (isinstance(action, TypeText) and "rm -rf" in action.text.lower())
