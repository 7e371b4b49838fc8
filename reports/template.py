"""The page around the report's sections: one HTML document, styles inline, no scripts.

Nothing here refers to the network (no CDN, no web fonts), so the file opens the same
on a laptop in a train; ``string.Template`` is all the templating it needs.
"""

from __future__ import annotations

from string import Template

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="trackit report">
<title>$title</title>
<style>
$style
</style>
</head>
<body>
<header>
<h1>$title</h1>
<p class="meta">$meta</p>
</header>
<main>
$body
</main>
<footer><p class="meta">$footer</p></footer>
</body>
</html>
""")

STYLE = """
:root { --ink: #1f2328; --muted: #656d76; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 1000px; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem;
     margin-top: 2.2rem; }
.meta, .note, figcaption { color: var(--muted); font-size: .85rem; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr));
        gap: .75rem; }
.kpi { background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
       padding: .6rem .8rem; }
.kpi .value { font-size: 1.5rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.kpi .label { color: var(--muted); font-size: .8rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin: .75rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; }
th { background: var(--bg); text-align: left; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
.empty { background: var(--bg); border: 1px dashed var(--line); border-radius: 6px;
         padding: 1.5rem; text-align: center; font-size: 1.1rem; }
"""
