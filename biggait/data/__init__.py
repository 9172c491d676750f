"""Datasets: safe pickles, readers, samplers, loaders, preprocessing, tree checks and `biggait data`."""
