"""Images writers upload into their entries: checked by content, re-encoded without
metadata, stored under random names, served to whoever may read an entry that shows them."""
