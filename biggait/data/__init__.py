"""Datasets: presets, safe pickles, readers, samplers, loaders and the SynthGait generator."""
