"""The segc standard library, written in .seg; every file here is loaded before user files."""
