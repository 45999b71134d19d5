"""segc: compile .seg network segmentation programs to Kubernetes NetworkPolicy."""

__version__ = "0.1.0"
