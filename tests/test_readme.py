"""The README's embedding example is documentation that must keep working: run it as written."""

import re
from pathlib import Path


def test_readme_examples_run() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 2, "the README has the embedding and read-side examples"
    namespace: dict[str, object] = {}
    for block in blocks:  # later blocks go on from the earlier ones, as a reader would
        exec(compile(block, "README.md", "exec"), namespace)
