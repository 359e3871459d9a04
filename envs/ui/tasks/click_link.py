"""click-link: click the named link in a few paragraphs of text."""

from __future__ import annotations

from actions.schema import ActionBase
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect, text_size
from envs.ui.task import UITask
from envs.ui.widgets.basic import Label, Panel
from envs.ui.widgets.controls import Paragraph, Run
from envs.ui.words import (
    HEADINGS,
    PROSE_ADJECTIVES,
    PROSE_DETERMINERS,
    PROSE_NOUNS,
    PROSE_PREPOSITIONS,
    PROSE_VERBS,
    WORDS,
)

NOUN_SLOTS = 3  # nouns per generated sentence, each of which may become a link


def _join(tokens: list[Run]) -> list[Run]:
    """Tokens joined by spaces (none before a full stop), neighbouring plain text merged."""
    spaced: list[Run] = []
    for tok in tokens:
        if spaced and not tok.text.startswith("."):
            spaced.append(Run(" "))
        spaced.append(tok)
    runs: list[Run] = []
    for run in spaced:
        if runs and not run.link and not runs[-1].link:
            runs[-1] = Run(runs[-1].text + run.text)
        else:
            runs.append(run)
    return runs


class ClickLink(UITask):
    """One or two paragraphs of generated prose holding 2-5 links, sometimes under a heading or
    on a card. Clicking a link ends the episode: success for the named one, failure for any
    other. Clicks on plain text do nothing."""

    name = "click-link"
    max_steps = 4
    summary = "Click the link with the given text in a paragraph."

    def build(self) -> None:
        s = self.style
        links = self.choice(WORDS, int(self.rng.integers(2, 6)))
        self.target = links[0]
        card = s.pad * 2 if self.rng.random() < 0.4 else 0
        char_w = text_size("abcdefghijklmnopqrstuvwxyz", s.font)[0] / 26
        width = min(self.area.w - 2 * card, int(self.rng.uniform(28, 64) * char_w))
        heading = str(self.rng.choice(HEADINGS)) if self.rng.random() < 0.5 else ""
        gap = s.line_h // 2 + s.pad
        head_h = s.line_h + gap if heading else 0
        fewest = -(-len(links) // NOUN_SLOTS)
        for n in range(int(self.rng.integers(max(fewest, 2), 7)), fewest - 1, -1):
            texts = self._paragraphs(n, links)  # fewer sentences until they fit
            sizes = [Paragraph.wrapped(s, 0, 0, width, runs).rect for runs in texts]
            w = max(r.w for r in sizes) + 2 * card
            h = head_h + sum(r.h for r in sizes) + gap * (len(sizes) - 1) + 2 * card
            if w <= self.area.w and h <= self.area.h:
                break
        else:
            raise TaskGenerationError(f"{self.name}: the text does not fit in {self.area}")
        box = Rect(
            int(self.rng.integers(self.area.x, self.area.right - w + 1)),
            int(self.rng.integers(self.area.y, self.area.bottom - h + 1)),
            w,
            h,
        )
        if card:
            self.scene.add(Panel(box))
        x, y = box.x + card, box.y + card
        if heading:
            self.scene.add(Label.at(s, x, y, heading, font="bold"))
            y += head_h
        self.links: dict[str, list[Rect]] = {}
        for runs, size in zip(texts, sizes, strict=True):
            para = Paragraph.wrapped(s, x, y, width, runs, on_link=self._on_link)
            self.links.update(para.links)
            self.scene.add(para)
            y += size.h + gap
        self.distractors(int(self.rng.integers(0, 4)), [box])
        phrasing = ("Click the link '{}'.", 'Click on the "{}" link.', "Open the link '{}'.")
        self.instruction = str(self.rng.choice(phrasing)).format(self.target)

    def _paragraphs(self, n: int, links: list[str]) -> list[list[Run]]:
        """``n`` sentences with ``links`` on random noun slots, split into one or two paragraphs."""
        slots = self.rng.choice(n * NOUN_SLOTS, size=len(links), replace=False)
        link_at: list[str | None] = [None] * (n * NOUN_SLOTS)
        for slot, word in zip(slots, links, strict=True):
            link_at[int(slot)] = word
        sentences = [
            self._sentence(link_at[i : i + NOUN_SLOTS])
            for i in range(0, n * NOUN_SLOTS, NOUN_SLOTS)
        ]
        split = int(self.rng.integers(1, n)) if n >= 3 and self.rng.random() < 0.5 else n
        parts = [sentences[:split], sentences[split:]]
        return [_join([tok for sentence in part for tok in sentence]) for part in parts if part]

    def _sentence(self, links: list[str | None]) -> list[Run]:
        """'The quiet team visited a maple near our office.', with links in place of nouns."""
        pick = self.rng.choice

        def noun_phrase(link: str | None) -> list[Run]:
            adjective = [Run(str(pick(PROSE_ADJECTIVES)))] if self.rng.random() < 0.5 else []
            noun = Run(link, True) if link else Run(str(pick(PROSE_NOUNS)))
            det = str(pick(PROSE_DETERMINERS))
            if det == "a" and (adjective or [noun])[0].text[0] in "aeiou":
                det = "an"
            return [Run(det), *adjective, noun]

        subject, obj, place = (noun_phrase(link) for link in links)
        subject[0] = Run(subject[0].text.capitalize())
        verb, prep = Run(str(pick(PROSE_VERBS))), Run(str(pick(PROSE_PREPOSITIONS)))
        return [*subject, verb, *obj, prep, *place, Run(".")]

    def _on_link(self, text: str) -> None:
        if text == self.target:
            self.succeed()
        else:
            self.fail()

    def oracle(self) -> ActionBase:
        return self.click(self.links[self.target][0])
