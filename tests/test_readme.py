"""The README's embedding example is documentation that must keep working: run it as written."""

import re
from pathlib import Path


def test_readme_embedding_example_runs() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "the README has an embedding example"
    exec(compile(blocks[0], "README.md", "exec"), {})
