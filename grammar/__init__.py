"""The .seg grammar, shipped inside the segc package."""
