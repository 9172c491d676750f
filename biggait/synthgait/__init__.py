"""SynthGait: the procedural gait dataset of the demo (domains, bodies, scenes, rendering, file formats).

``biggait synth`` (:mod:`biggait.synthgait.cli`) writes the trees the real datasets' readers
(:mod:`biggait.data`) read; :mod:`~biggait.synthgait.generator` is the entry point.
"""
