"""What pyproject.toml cannot say: the C core (cffi) and the renamed packages.

The checkout keeps its top-level folders (app/, resources/), but a wheel must
not install a top-level package with a name as generic as ``app``, and the
guest sources must travel inside an installed package. So the wheel maps

    app/        -> disco_workbench        (the desktop application)
    resources/  -> disco_core/resources   (guest sources, linker scripts, icons)

and disco_core.guest.resources_dir() reads them with importlib.resources.
docs/packaging.md describes the layout.
"""

from setuptools import find_namespace_packages, find_packages, setup


def _packages() -> list[str]:
    core = find_packages(include=["disco_core", "disco_core.*"])
    # app.views -> disco_workbench.views: found in the folder, installed under the new name.
    workbench = ["disco_workbench" + name[len("app"):]
                 for name in find_packages(include=["app", "app.*"])]
    return [*core, *_resource_packages(), *workbench]


def _resource_packages() -> list[str]:
    # Every folder of resources/ is listed as a (data-only) package: setuptools
    # ships a folder's files only as the data of a package named after it.
    folders = find_namespace_packages(where="resources", exclude=["*__pycache__*"])
    return ["disco_core.resources", *("disco_core.resources." + f for f in folders)]


setup(
    packages=_packages(),
    package_dir={"disco_workbench": "app", "disco_core.resources": "resources"},
    package_data={"disco_core": ["py.typed"], **{p: ["*"] for p in _resource_packages()}},
    cffi_modules=["core_c/build.py:ffibuilder"],
    zip_safe=False,
)
