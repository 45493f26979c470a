# setuptools has no pyproject key for cffi modules, so this file only names the build script.
from setuptools import setup

setup(cffi_modules=["core_c/build.py:ffibuilder"], zip_safe=False)
