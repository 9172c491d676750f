"""Parity with the released implementation (OpenGait): the golden checks behind ``biggait selfcheck``.

Kept apart from the product: nothing outside :mod:`biggait.parity` imports it. :mod:`golden`
locates the vectors and compares arrays; :mod:`model_checks`, :mod:`data_checks` and
:mod:`eval_checks` reproduce the golden files; :mod:`selfcheck` holds them in one dict;
:mod:`tolerances` holds every tolerance they compare with.
"""
