"""The peer mesh: links to other regions' CCs, and the home side of their orders."""
