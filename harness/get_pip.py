# SPDX-License-Identifier: Apache-2.0
"""Stand-in for the get-pip.py that ansible-test downloads from a host outside the package registries.

ansible-test bootstraps pip into each sanity test's empty virtualenv with that script. These
machines reach only the package registries, so harness/sanity.sh always puts this file in its place
(~/.ansible/test/cache/get_pip_<version>.py): pip comes from the interpreter's own ensurepip and is
then brought to the pinned version ansible-test asks for, from PyPI. Called like get-pip.py:
pip options and package specs ("pip==24.2"), plus --no-setuptools / --no-wheel.
"""

import subprocess
import sys


def main():
    """Install pip with ensurepip, then the requested packages with it."""
    args = sys.argv[1:]
    no_setuptools = '--no-setuptools' in args
    args = [arg for arg in args if arg not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--upgrade'] + args)
    if no_setuptools:
        # ensurepip of Python < 3.12 installs setuptools too; get-pip.py --no-setuptools would not.
        subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '-q', '-y', 'setuptools'],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == '__main__':
    main()
