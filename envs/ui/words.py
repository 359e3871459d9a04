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

# -- choose-dropdown: a field's label -> its options ---------------------------------------------
DROPDOWN_FIELDS: dict[str, tuple[str, ...]] = {
    "City": CITIES,
    "Country": (
        "Peru", "Chile", "Norway", "Kenya", "Japan", "Ghana", "Spain", "Egypt", "Canada", "Nepal",
        "Brazil", "Iceland", "Mexico", "Poland", "Vietnam", "Morocco",
    ),
    "Color": (
        "Red", "Orange", "Yellow", "Green", "Teal", "Blue", "Navy", "Purple", "Pink", "Brown",
        "Gray", "Black", "White", "Gold",
    ),
    "Language": (
        "English", "French", "German", "Spanish", "Italian", "Dutch", "Polish", "Turkish",
        "Swahili", "Korean", "Hindi", "Finnish",
    ),
    "Month": (
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ),
    "Day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "Currency": ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "INR", "BRL"),
    "Department": (
        "Sales", "Finance", "Legal", "Support", "Research", "Design", "Marketing", "Logistics",
        "Security", "Training",
    ),
    "Size": ("XS", "S", "M", "L", "XL", "XXL"),
    "Priority": ("Lowest", "Low", "Normal", "High", "Urgent", "Critical"),
    "Fruit": (
        "Apple", "Banana", "Cherry", "Grape", "Lemon", "Mango", "Melon", "Peach", "Pear", "Plum",
        "Kiwi", "Lime",
    ),
}  # fmt: skip
DROPDOWN_PLACEHOLDERS = ("Select...", "Choose...", "-- none --", "Pick one")
SUBMIT_LABELS = ("Submit", "Apply", "Save", "Continue", "Done", "OK")

# -- navigate-menu: menus in menu-bar order; each menu's leaf items and its submenus -------------
MENUS: dict[str, tuple[str, ...]] = {
    "File": ("New", "Open", "Save", "Save As", "Close", "Print", "Revert", "Quit"),
    "Edit": ("Undo", "Redo", "Cut", "Copy", "Paste", "Delete", "Select All", "Duplicate"),
    "View": ("Zoom In", "Zoom Out", "Full Screen", "Sidebar", "Toolbar", "Status Bar", "Grid"),
    "Insert": ("Image", "Link", "Chart", "Comment", "Page Break", "Footnote", "Date"),
    "Format": ("Bold", "Italic", "Underline", "Clear Format", "Columns", "Spacing"),
    "Tools": ("Spelling", "Word Count", "Macros", "Options", "Plugins", "Terminal"),
    "Window": ("Minimize", "Maximize", "New Window", "Close All", "Bring to Front"),
    "Help": ("Contents", "Shortcuts", "Updates", "Release Notes", "Report Bug", "About"),
}
SUBMENUS: dict[str, dict[str, tuple[str, ...]]] = {
    "File": {
        "Export": ("PDF", "PNG", "HTML", "CSV", "Markdown"),
        "Recent": ("notes.txt", "budget.xls", "draft.md", "plan.pdf"),
        "Share": ("Email", "Copy Link", "Cloud", "Printer"),
    },
    "Edit": {
        "Find": ("Find", "Find Next", "Replace", "Go to Line"),
        "Transform": ("Uppercase", "Lowercase", "Title Case", "Reverse"),
    },
    "View": {
        "Zoom": ("50%", "75%", "100%", "150%", "200%"),
        "Panels": ("Layers", "History", "Outline", "Console"),
        "Theme": ("Light", "Dark", "System"),
    },
    "Insert": {
        "Shape": ("Circle", "Square", "Arrow", "Star", "Line"),
        "Table": ("2 x 2", "3 x 3", "4 x 4", "Custom"),
    },
    "Format": {
        "Align": ("Left", "Center", "Right", "Justify"),
        "Font Size": ("Small", "Medium", "Large", "Huge"),
        "Indent": ("Increase", "Decrease", "Reset"),
    },
    "Tools": {
        "Language": ("English", "French", "German", "Spanish", "Italian"),
        "Extensions": ("Manage", "Browse", "Update All"),
    },
    "Window": {"Arrange": ("Tile", "Cascade", "Stack", "Minimize All")},
    "Help": {"Tutorials": ("Basics", "Editing", "Sharing", "Advanced")},
}

# -- click-dialog: (title, message with an optional {} for a word, buttons) ----------------------
# The first button confirms; the last of two or more cancels.
DIALOGS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Confirm", "Delete '{}'? This cannot be undone.", ("Delete", "Cancel")),
    ("Unsaved changes", "Save changes to '{}' before closing?", ("Save", "Don't Save", "Cancel")),
    ("Update", "Version 3.2 is ready. Restart now to install it?", ("Restart", "Later")),
    ("Error", "Could not open '{}'. The file may be in use.", ("Retry", "Cancel")),
    ("Notice", "Your session will expire in 5 minutes.", ("OK",)),
    ("Sign out", "Are you sure you want to sign out?", ("Yes", "No")),
    ("Overwrite", "A file named '{}' already exists. Replace it?", ("Replace", "Cancel")),
    ("Saved", "Your changes to '{}' were saved.", ("OK",)),
    ("Discard", "Discard the draft '{}'?", ("Discard", "Cancel")),
    ("Empty trash", "Permanently erase all items in the trash?", ("Empty", "Cancel")),
    ("Offline", "The server is not responding. Try again?", ("Retry", "Cancel")),
    ("Install", "Install the '{}' plug-in?", ("Install", "Not Now")),
    ("Close tabs", "Close 4 tabs? Your work in '{}' is kept.", ("Close All", "Cancel")),
    ("Quit", "Quit the app? Downloads in progress will stop.", ("Quit", "Cancel")),
)

# -- click-tab -----------------------------------------------------------------------------------
TAB_NAMES = (
    "General", "Account", "Billing", "Privacy", "Security", "Profile", "Network", "Display",
    "Sound", "Advanced", "Details", "Sharing", "History", "Alerts", "Storage", "Devices",
)  # fmt: skip
