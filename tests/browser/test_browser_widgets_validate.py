"""nbgrader's lab extension, in the same JupyterLab and Chromium: with the reference (instructor)
notebook open, the toolbar has the Validate button, and validation passes.

The button saves the notebook first; the server's root is a scratch copy, so the repository's
notebook is never written. Validation runs the whole notebook on the server, so the click
happens when the session's first widget test starts (conftest.py, ``validation``) and this
test, which runs after the widget tests, reads the result.
"""
from __future__ import annotations

import pytest

import browser_harness as H

REFERENCE = H.validate_notebooks()


@pytest.mark.skipif(not REFERENCE, reason="no instructor notebooks")
@pytest.mark.parametrize("notebook", REFERENCE, ids=[p.name for p in REFERENCE])
def test_validate_button_passes(notebook, validation):
    nb = validation.pages[notebook]
    try:
        assert validation.labels[notebook] == "Validate", \
            f"the toolbar's nbgrader button reads {validation.labels[notebook]!r}"
        dialog = nb.page.locator(".jp-Dialog #validation-message").first
        dialog.wait_for(state="attached", timeout=600_000)  # nbgrader runs the whole notebook
        text = dialog.inner_text()
        classes = dialog.get_attribute("class") or ""
        assert "validation-success" in classes, f"validation did not pass: {text[:3000]}"
        assert "Success! Your notebook passes all the tests." in text
        assert not nb.console_errors, "browser console errors:\n" + "\n".join(nb.console_errors)
    finally:
        nb.close()
