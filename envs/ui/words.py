"""Vocabularies for labels, names and texts in the GUI suite (plain ASCII)."""

from __future__ import annotations

BUTTON_LABELS = (
    "OK", "Cancel", "Submit", "Save", "Delete", "Next", "Back", "Apply", "Close", "Send",
    "Search", "Login", "Logout", "Open", "Edit", "Copy", "Paste", "Share", "Upload", "Print",
    "Retry", "Skip", "Accept", "Decline", "Continue", "Finish", "Reset", "Refresh", "Archive",
    "Download", "Export", "Import", "Rename", "Move", "Undo", "Redo", "Help", "Start", "Stop",
)  # fmt: skip

WORDS = (
    "apple", "river", "stone", "cloud", "maple", "tiger", "lemon", "pilot", "orbit", "piano",
    "amber", "cedar", "delta", "ember", "flint", "grape", "harbor", "ivory", "jade", "kiwi",
    "lotus", "mango", "nectar", "olive", "pearl", "quartz", "raven", "salmon", "tulip", "umber",
    "velvet", "willow", "yarrow", "zephyr", "acorn", "birch", "coral", "dune", "fern", "glacier",
    "hazel", "iris", "juniper", "kelp", "lilac", "meadow", "nova", "oak", "poppy", "reef",
)  # fmt: skip

FIRST_NAMES = (
    "Alice", "Bruno", "Chen", "Dana", "Elif", "Farah", "Goran", "Hana", "Ivan", "Jonas",
    "Kemal", "Lena", "Marta", "Nikhil", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tariq",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Garcia", "Kowalski", "Nguyen", "Okafor", "Silva", "Tanaka", "Muller", "Rossi",
    "Larsen", "Haddad", "Novak", "Ivanova", "Brown", "Costa", "Dubois", "Fischer", "Khan",
)  # fmt: skip
CITIES = (
    "Lisbon", "Oslo", "Nairobi", "Lima", "Osaka", "Quito", "Tunis", "Perth", "Dublin", "Hanoi",
    "Porto", "Riga", "Accra", "Bern", "Cairo", "Delhi", "Kyoto", "Seoul", "Turin", "Zagreb",
)  # fmt: skip
APP_TITLES = (
    "Mail", "Settings", "Files", "Notes", "Calendar", "Shop", "Photos", "Music", "Tasks",
    "Contacts", "Weather", "Maps", "Bank", "Travel", "Docs", "Chat", "Admin", "Console",
)  # fmt: skip
FILLER = (
    "Welcome back", "Last saved 2 min ago", "All changes synced", "3 new messages",
    "Version 2.4.1", "Help center", "Terms of use", "Signed in", "Draft", "Updated today",
    "No items selected", "Press F1 for help", "Beta", "Offline mode", "Tip of the day",
)  # fmt: skip

# Sentence parts for filler prose (none of them is in WORDS, which links use).
PROSE_DETERMINERS = ("the", "a", "our", "every", "this", "each", "one")
PROSE_ADJECTIVES = (
    "quiet", "new", "small", "busy", "local", "early", "careful", "bright", "old", "friendly",
    "weekly", "remote", "modern", "patient", "young", "formal", "simple", "final", "large",
)  # fmt: skip
PROSE_NOUNS = (
    "team", "report", "office", "meeting", "project", "garden", "library", "market", "village",
    "museum", "station", "letter", "budget", "schedule", "visitor", "manager", "student",
    "driver", "engineer", "kitchen", "council", "journey", "teacher", "window", "bridge",
)  # fmt: skip
PROSE_VERBS = (
    "visited", "reviewed", "shared", "opened", "found", "described", "planned", "moved",
    "checked", "painted", "followed", "printed", "answered", "praised", "cleaned", "noticed",
)  # fmt: skip
PROSE_PREPOSITIONS = ("near", "with", "after", "before", "for", "beside", "about", "behind")
HEADINGS = (
    "Release notes", "About us", "Getting started", "Weekly digest", "Latest news",
    "Community", "Travel guide", "Garden diary", "Project update", "Read me", "Field notes",
)  # fmt: skip
SLIDER_LABELS = (
    "Volume", "Brightness", "Contrast", "Speed", "Zoom", "Opacity", "Balance", "Bass", "Treble",
    "Saturation", "Font size", "Delay", "Quality", "Threshold", "Level", "Gain", "Warmth",
)  # fmt: skip
COUNTRIES = (
    "Albania", "Argentina", "Austria", "Belgium", "Bolivia", "Brazil", "Canada", "Chile",
    "Colombia", "Croatia", "Cuba", "Denmark", "Ecuador", "Egypt", "Estonia", "Finland",
    "France", "Germany", "Ghana", "Greece", "Hungary", "Iceland", "India", "Ireland", "Italy",
    "Japan", "Jordan", "Kenya", "Latvia", "Malta", "Mexico", "Morocco", "Nepal", "Norway",
    "Panama", "Peru", "Poland", "Portugal", "Romania", "Senegal", "Spain", "Sweden", "Togo",
    "Tunisia", "Uganda", "Uruguay", "Vietnam", "Zambia",
)  # fmt: skip
ANIMALS = (
    "badger", "beaver", "bison", "camel", "cheetah", "cobra", "coyote", "crane", "dingo",
    "dolphin", "donkey", "eagle", "falcon", "ferret", "gazelle", "gecko", "gibbon", "goose",
    "gorilla", "hamster", "hedgehog", "heron", "hyena", "jackal", "koala", "lemur", "leopard",
    "llama", "lynx", "magpie", "marmot", "moose", "otter", "panda", "parrot", "pelican",
    "penguin", "puffin", "rabbit", "squirrel", "walrus", "weasel", "zebra",
)  # fmt: skip
MORE_CITIES = (
    "Athens", "Bergen", "Bogota", "Boston", "Cork", "Dakar", "Denver", "Geneva", "Havana",
    "Lagos", "Leeds", "Lyon", "Madrid", "Malmo", "Manila", "Milan", "Munich", "Nantes",
    "Naples", "Paris", "Prague", "Sofia", "Tampa", "Tokyo", "Vienna", "Warsaw", "Xian", "York",
)  # fmt: skip
LIST_TITLES = (
    "Select an item", "Results", "Recent", "Favorites", "Directory", "Browse", "Choose one",
    "Library", "Index", "All entries",
)  # fmt: skip
