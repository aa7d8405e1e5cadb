"""The report's baseline: MLP and VGG-style CNN patch classifiers, their training data and training, and sliding-window detection."""
