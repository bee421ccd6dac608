"""A small Sphinx extension that keeps the built book self-contained and its pages free of
script errors:

* MathJax is served from the site itself (MathJax 2.7 as packaged by ``jupyter-server-mathjax``,
  with its STIX-Web fonts, copied into ``_static/mathjax`` at build time, never committed)
  instead of a CDN, so pages render offline and request no other host;
* an inline script repeated in a page's head is kept once: the themes' set-up emits
  sphinx-thebe's and sphinx-togglebutton's snippets twice, and a second ``const`` declaration is
  a console error;
* no font request that fails: MathJax 2 declares a "MathJax_Blank" font at ``about:blank`` (a
  cross-origin request Chromium refuses, with a console error), here a local font that is never
  found; and the hidden MathML it adds for screen readers asks for the TeX fonts, which the package
  does not ship (a 404 for any double-struck letter, such as R), here told to inherit the page's.
"""
import re
import shutil
from pathlib import Path

MATHJAX = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"  # the configuration the package ships
SCRIPT = re.compile(r"^\s*<script>.*</script>\s*$")
ASSISTIVE_FONTS = "<style>.MJX_Assistive_MathML [mathvariant] { font-family: inherit !important; }</style>"


def _mathjax_dir() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _config(app, config):
    config.mathjax_path = MATHJAX
    config.mathjax2_config = {
        # MathJax 2 reads classes as regular expressions; myst-nb marks notebook pages "tex2jax_ignore"
        "tex2jax": {"processClass": "math|output_area|tex2jax_process"},
        # only the STIX-Web fonts are packaged
        "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None, "preferredFont": None,
                     "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}}},
        "SVG": {"font": "STIX-Web"},
    }


def dedupe_head_scripts(html: str) -> str:
    """Drop the repeats of identical one-line inline scripts in ``<head>``."""
    head, sep, body = html.partition("</head>")
    seen, out = set(), []
    for line in head.splitlines(keepends=True):
        if SCRIPT.match(line):
            if line.strip() in seen:
                continue
            seen.add(line.strip())
        out.append(line)
    return "".join(out) + sep + body


def _finish(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    shutil.copytree(_mathjax_dir(), outdir / "_static" / "mathjax", dirs_exist_ok=True)
    for page in outdir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = dedupe_head_scripts(text)
        if "mathjax" in fixed.lower() and ASSISTIVE_FONTS not in fixed:
            fixed = fixed.replace("</head>", ASSISTIVE_FONTS + "</head>", 1)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.connect("config-inited", _config)
    app.connect("build-finished", _finish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
