"""Builds the model of a file's training and evaluation code that the rules read."""
