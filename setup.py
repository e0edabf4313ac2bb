# Only here because cffi_modules needs setuptools' setup(); all metadata lives in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["audiolab/_build_kernels.py:ffibuilder"])
