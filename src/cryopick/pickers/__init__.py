"""Pickers: each turns a micrograph into scored candidates (LoG, the FCN, the report's patch classifiers), behind one interface and registry."""
