"""The `_target_` seam: a node is checked before it is built, a saved class path before it
is imported."""

import subprocess
import sys

import pytest
from torch import nn

from qa_lightning.components import build_component, check_component, resolve_class
from qa_lightning.errors import ConfigError


class Base(nn.Module):
    pass


class Child(Base):
    def __init__(self, hidden: int, *, width: int = 4):
        super().__init__()
        self.hidden, self.width = hidden, width


def test_a_node_is_built_with_the_seams_own_arguments():
    spec = {"_target_": f"{__name__}.Child", "width": 7}
    built = build_component("model.head", spec, Base, what="span head", hidden=3)
    assert (built.hidden, built.width) == (3, 7)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"_target_": "no_such_pkg.Head"},
            "model.head._target_='no_such_pkg.Head' cannot be imported",
        ),
        ({"_target_": "torch.nn.Linear"}, "is not a span head: give a subclass of"),
        ({"_target_": f"{__name__}.Child", "depth": 2}, "model.head.depth: Child takes no 'depth'"),
        ({"width": 2}, "model.head needs a _target_"),
    ],
)
def test_a_bad_node_fails_in_one_line_naming_the_key(spec, message):
    with pytest.raises(ConfigError) as info:
        check_component("model.head", spec, Base, what="span head", supplied=("hidden",))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_saved_path_must_subclass_the_base():
    assert resolve_class(f"{__name__}.Child", Base, where="qa_head.json") is Child
    with pytest.raises(ConfigError, match="not a subclass"):
        resolve_class("os.system", Base, where="qa_head.json")


def test_a_saved_path_never_imports_a_new_module():
    # `antigravity` opens a web browser when imported: a saved file naming it must not
    code = (
        "import sys\n"
        "from torch import nn\n"
        "from qa_lightning.components import resolve_class\n"
        "from qa_lightning.errors import ConfigError\n"
        "try:\n"
        "    resolve_class('antigravity.Anything', nn.Module, where='qa_head.json')\n"
        "except ConfigError as err:\n"
        "    print(err)\n"
        "print('antigravity' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    message, imported = out.stdout.strip().splitlines()
    assert "imports=[antigravity]" in message
    assert imported == "False"
