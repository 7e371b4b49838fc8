"""The page around the report's sections: one HTML document, styles and script inline.

Nothing here refers to the network (no CDN, no web fonts), so the file opens the same
on a laptop in a train; ``string.Template`` is all the templating it needs. The one
script (``CSV_SCRIPT``) puts a "CSV" link above every table with an ``id``: a ``data:``
URI holding the table's cells, so a download needs no server. Without JavaScript the
page is the same, minus those links.
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
<body data-report="$name">
<header>
<h1>$title</h1>
<p class="meta">$meta</p>
</header>
<main>
$body
</main>
<footer><p class="meta">$footer</p></footer>
<script>
$script
</script>
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
.swatch { display: inline-block; width: .7em; height: .7em; border-radius: 2px;
          margin-right: .35em; vertical-align: baseline; }
a.csv { float: right; font-size: .8rem; margin-top: -.2rem; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
           padding: .5rem .8rem; }
.empty { background: var(--bg); border: 1px dashed var(--line); border-radius: 6px;
         padding: 1.5rem; text-align: center; font-size: 1.1rem; }
"""

CSV_SCRIPT = r"""
(function () {
  "use strict";
  function field(text) {
    var value = text.replace(/\s+/g, " ").trim();
    if (/^[=+@]/.test(value)) { value = "'" + value; }
    return /[",;\n]/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
  }
  function csvOf(table) {
    var lines = [];
    table.querySelectorAll("tr").forEach(function (row) {
      var cells = [];
      row.querySelectorAll("th, td").forEach(function (cell) {
        cells.push(field(cell.textContent));
      });
      lines.push(cells.join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }
  var name = document.body.getAttribute("data-report") || "report";
  document.querySelectorAll("table[id]").forEach(function (table) {
    var link = document.createElement("a");
    link.className = "csv";
    link.download = name + "-" + table.id + ".csv";
    link.href = "data:text/csv;charset=utf-8," + encodeURIComponent("\ufeff" + csvOf(table));
    link.textContent = "CSV";
    link.title = "Download this table as CSV";
    table.parentNode.insertBefore(link, table);
  });
})();
""".strip()
