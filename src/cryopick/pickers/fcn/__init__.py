"""The fully convolutional picker: its training data, configuration, particle count, PU loss, tiled inference, training and the general model."""
