# TEMPORARY PLACEHOLDER - to be replaced by the real task
from envs.ui.task import UITask


class ClickLink(UITask):
    name = "click-link"
    max_steps = 1
    summary = "placeholder"

    def build(self):
        raise NotImplementedError

    def oracle(self):
        raise NotImplementedError
