"""enter-text: type a given text into the labelled field and submit."""

from __future__ import annotations

from actions.schema import ActionBase, Key
from envs.ui.forms import fill_step, labelled_fields
from envs.ui.task import UITask
from envs.ui.widgets.basic import Button
from envs.ui.words import CITIES, FIRST_NAMES, WORDS

FIELDS: dict[str, tuple[str, ...]] = {
    "Username": tuple(n.lower() for n in FIRST_NAMES),
    "City": CITIES,
    "Search": WORDS,
    "Name": FIRST_NAMES,
    "Code": ("A1B2", "X9Y8", "Q7Z3", "K5M4", "T2R6", "H8J1"),
    "Tag": WORDS,
    "Nickname": tuple(w.capitalize() for w in WORDS),
}


class EnterText(UITask):
    """One to three labelled text fields (the target sometimes holding a wrong value) and a
    Submit button. Submitting (the button, or Enter in a field) ends the episode; it succeeds
    when the named field holds exactly the requested text."""

    name = "enter-text"
    max_steps = 8
    summary = "Type the given text into the labelled field and submit."

    def build(self) -> None:
        s = self.style
        labels = self.choice(tuple(FIELDS), int(self.rng.integers(1, 4)))
        self.target_label = labels[int(self.rng.integers(len(labels)))]
        self.text = str(self.rng.choice(FIELDS[self.target_label]))
        fields, block = labelled_fields(self, labels, extra_h=s.control_h + s.pad)
        self.field = fields[labels.index(self.target_label)]
        if self.rng.random() < 0.3:
            wrong = [w for w in FIELDS[self.target_label] if w != self.text]
            self.field.value = str(self.rng.choice(wrong))
        for f in fields:
            f.on_submit = self.submit
            if f is not self.field and self.rng.random() < 0.3:
                f.placeholder = "optional"
        self.button = Button.sized(s, block.x, block.bottom - s.control_h, "Submit")
        self.button.on_press = self.submit
        self.scene.add(self.button)
        self.by_enter = bool(self.rng.random() < 0.3)
        end = "press Enter" if self.by_enter else "click Submit"
        templates = (
            'Type "{t}" into the {f} field and {e}.',
            'Enter "{t}" in the {f} box, then {e}.',
            'Set {f} to "{t}" and {e}.',
        )
        self.instruction = str(self.rng.choice(templates)).format(
            t=self.text, f=self.target_label, e=end
        )
        self.distractors(int(self.rng.integers(0, 3)), [block])

    def submit(self) -> None:
        if self.field.value == self.text:
            self.succeed()
        else:
            self.fail()

    def oracle(self) -> ActionBase:
        step = fill_step(self, self.field, self.text)
        if step is not None:
            return step
        if self.by_enter and self.scene.focus is self.field:
            return Key(key="enter")
        return self.click(self.button)
