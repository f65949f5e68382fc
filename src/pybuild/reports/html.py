"""`pybuild explain --format html`: one self-contained page (no network, no external assets).
The Dockerfile is on the left; on the right, what each line produced. Selecting a line (a click,
or `#line-N` in the address) highlights the layer and config fields it made; layer sizes are
drawn as bars."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from ..oci.layout import blob_path
from .explain import contents

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{padding:14px 22px;background:#1d2330;color:#fff}
header h1{font-size:18px;margin:0 0 6px}
header code{color:#9fe3b3}
main{display:grid;grid-template-columns:minmax(320px,40%) 1fr;gap:18px;padding:18px}
pre.dockerfile{background:#fff;border:1px solid #d6d9e0;border-radius:6px;margin:0;padding:8px 0;
 position:sticky;top:10px;max-height:90vh;overflow:auto}
.src{display:block;padding:1px 12px 1px 0;white-space:pre;cursor:pointer}
.src .no{display:inline-block;width:3.2em;text-align:right;color:#8a90a0;margin-right:10px}
.src.has{font-weight:600}.src:hover{background:#eef2ff}.src.selected{background:#dbe4ff}
.step{background:#fff;border:1px solid #d6d9e0;border-radius:6px;padding:10px 14px;margin-bottom:10px}
.step.selected{border-color:#3b5bdb;box-shadow:0 0 0 2px #bac8ff}
.step h2{font-size:14px;margin:0 0 6px;font-family:ui-monospace,monospace}
.where{color:#8a90a0;font-weight:400;margin-right:8px}
.bar{height:10px;background:#4c6ef5;border-radius:3px;margin:4px 0}
.digest{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
table{border-collapse:collapse;font-size:12px;font-family:ui-monospace,monospace;width:100%}
td,th{padding:2px 6px;border-bottom:1px solid #eceef2;text-align:left;vertical-align:top}
.note{color:#6b7080;font-size:12px}.empty{color:#8a90a0}
section.image{background:#fff;border:1px solid #d6d9e0;border-radius:6px;padding:10px 14px;
 margin-bottom:10px}
main>*{min-width:0}
td{overflow-wrap:anywhere}
pre.json{font:12px/1.4 ui-monospace,monospace;background:#f6f7f9;padding:6px 8px;margin:4px 0;
 white-space:pre-wrap;overflow-wrap:anywhere}
.ref{color:#3b5bdb;cursor:pointer;text-decoration:underline dotted}
.set-by{color:#8a90a0;cursor:pointer}.set-by:hover{color:#3b5bdb}
.doc.flash{box-shadow:0 0 0 2px #fab005}
"""

SCRIPT = """
function select(line){
  document.querySelectorAll('.selected').forEach(e=>e.classList.remove('selected'));
  document.querySelectorAll('[data-line="'+line+'"]').forEach(e=>e.classList.add('selected'));
  const step=document.querySelector('.step[data-line="'+line+'"]');
  if(step){step.scrollIntoView({block:'nearest'});}
}
document.querySelectorAll('.src.has,.step').forEach(e=>e.addEventListener('click',
  ()=>{select(e.dataset.line); history.replaceState(null,'','#line-'+e.dataset.line);}));
const m=location.hash.match(/^#line-(\\d+)$/); if(m){select(m[1]);}
document.querySelectorAll('.ref').forEach(e=>e.addEventListener('click',()=>{
  const to=document.getElementById(e.dataset.to); if(!to){return;}
  to.scrollIntoView({block:'start'}); to.classList.add('flash');
  setTimeout(()=>to.classList.remove('flash'),1200);}));
document.querySelectorAll('.set-by').forEach(e=>e.addEventListener('click',
  ev=>{ev.stopPropagation(); select(e.dataset.line);}));
// The page's own layout, for tests in a headless browser: how wide it is against the window.
const root=document.documentElement;
root.dataset.scrollWidth=root.scrollWidth; root.dataset.viewport=window.innerWidth;
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _json(value: Any) -> str:
    return _e(json.dumps(value, ensure_ascii=False))


def _layer(layer: dict[str, Any], widest: int) -> str:
    width = max(1, round(100 * layer["size"] / widest)) if widest else 1
    where = (
        "" if layer["in_image"] else " <span class=note>(in another stage, not in the image)</span>"
    )
    rows = "".join(
        f"<tr><td>{_e(f['mode'])}</td><td>{f['uid']}:{f['gid']}</td><td>{f['size'] if f['type'] == 'file' else ''}</td>"
        f"<td>{_e(f['path'])}{' -> ' + _e(f['link']) if f['link'] else ''}</td>"
        f"<td class=note>{_e(f['source'] or '')}</td></tr>"
        for f in layer["files"]
    )
    return (
        f"<div class=bar style='width:{width}%' title='{layer['size']} bytes'></div>"
        f"<div>layer{where}: {layer['size']} bytes, {_e(contents(layer))}</div>"
        f"<div class=digest>diff_id <span class=diff_id>{_e(layer['diff_id'])}</span></div>"
        f"<div class=digest>digest&nbsp; <span class=layer-digest>{_e(layer['digest'])}</span></div>"
        f"<table><tr><th>mode</th><th>owner</th><th>size</th><th>path</th><th>from</th></tr>{rows}</table>"
        + "".join(
            f"<div class=note>excluded by .dockerignore: {_e(path)}</div>"
            for path in layer.get("excluded_by_dockerignore", [])
        )
    )


def render_html(document: dict[str, Any]) -> str:
    lines_with_steps = {item["line"] for item in document["instructions"]}
    source = "".join(
        f"<span class='src{' has' if number in lines_with_steps else ''}' data-line={number}>"
        f"<span class=no>{number}</span>{_e(text)}</span>"
        for number, text in enumerate(document.get("source", []), start=1)
    )
    widest = max(
        (item["layer"]["size"] for item in document["instructions"] if item["layer"]), default=0
    )
    steps = []
    for item in document["instructions"]:
        parts = [f"<h2><span class=where>line {item['line']}</span>{_e(item['text'])}</h2>"]
        if item["layer"]:
            parts.append(_layer(item["layer"], widest))
        if item["config_changes"]:
            parts.append(
                "<table><tr><th>config field</th><th>before</th><th>after</th></tr>"
                + "".join(
                    f"<tr class=change data-path='{_e(c['path'])}'><td>{_e(c['path'])}</td>"
                    f"<td>{_json(c['before'])}</td><td>{_json(c['after'])}</td></tr>"
                    for c in item["config_changes"]
                )
                + "</table>"
            )
        if "variables" in item:
            parts.append(
                "<div class=note>variables: "
                + _e(" ".join(f"{k}={v}" for k, v in sorted(item["variables"].items())))
                + "</div>"
            )
        if item["history"]:
            empty = " (empty_layer)" if item["history"]["empty_layer"] else ""
            parts.append(
                f"<div class=note>history: {_e(item['history']['created_by'])}{empty}</div>"
            )
        if len(parts) == 1:
            parts.append("<div class=empty>no layer, no config change</div>")
        steps.append(f"<div class=step data-line={item['line']}>{''.join(parts)}</div>")
    notes = "".join(
        f"<li><b>{_e(name)}</b>: {_e(text)}</li>" for name, text in document["digests"].items()
    )
    config_rows = "".join(
        f"<tr><td>{_e(key)}</td><td>{_json(value)}</td><td class=note>"
        f"{_e(', '.join(map(str, document['config_set_by'].get('config.' + key, []))))}</td></tr>"
        for key, value in document["config"]["config"].items()
    )
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<title>pybuild explain: {_e(document["dockerfile"])}</title><style>{STYLE}</style></head>
<body><header><h1>What each instruction of {_e(document["dockerfile"])} produced</h1>
image ID <code id=image-id>{_e(document["image_id"])}</code> &middot; manifest digest
<code id=manifest-digest>{_e(document["manifest_digest"])}</code></header>
<main><pre class=dockerfile>{source}</pre><div>{_why(document)}{"".join(steps)}
{_runs(document["runs"]) if document.get("runs") else ""}
<section class=image><h2>config</h2><table><tr><th>field</th><th>value</th><th>set by line</th></tr>
{config_rows}</table><h2>digests</h2><ul>{notes}</ul></section>
{_anatomy(document["archive"], document["config_set_by"]) if document.get("archive") else ""}
{_time(document["time"]) if document.get("time") else ""}</div></main>
<script>{SCRIPT}</script></body></html>
"""


# A digest, or the path of a blob in the layout (as manifest.json names them).
DIGEST = re.compile(rf"(?:sha256:|{re.escape(blob_path('sha256:'))})([0-9a-f]{{64}})")


def _linked_json(value: Any, blobs: set[str], set_by: dict[str, list[int]]) -> str:
    """A JSON document as HTML: digests of blobs in the archive are links to them, and each
    config field says (and selects) the line that set it."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    if not isinstance(value, dict) or "config" not in value or "rootfs" not in value:
        return _digest_links(_e(text), blobs)
    raw = text.split("\n")
    lines: list[str] = []
    for index, line in enumerate(raw):
        shown = _digest_links(_e(line), blobs)
        key = re.match(r'^ {4}"(\w+)":', line)  # a field of the config's "config" object
        inside = key is not None and _inside_config(raw[:index])
        found = set_by.get(f"config.{key.group(1)}") if key and inside else None
        if found:
            shown += "".join(
                f" <span class=set-by data-line={number}>&larr; line {number}</span>"
                for number in found
            )
        lines.append(shown)
    return "\n".join(lines)


def _inside_config(earlier: list[str]) -> bool:
    """Whether the lines so far leave us inside the top-level "config" object."""
    for line in reversed(earlier):
        if re.match(r'^ {2}"\w+"', line):
            return line.startswith('  "config"')
    return False


def _digest_links(escaped: str, blobs: set[str]) -> str:
    return DIGEST.sub(
        lambda m: (
            f"<span class=ref data-to=blob-{m.group(1)}>{m.group(0)}</span>"
            if f"sha256:{m.group(1)}" in blobs
            else m.group(0)
        ),
        escaped,
    )


def _anatomy(found: dict[str, Any], set_by: dict[str, list[int]]) -> str:
    blobs = {item["digest"] for item in found["documents"] if "digest" in item}
    blobs |= {layer["digest"] for layer in found["layers"]}
    parts = [
        f"<h2>the archive</h2><div class=note>follow {_e(found['order'])}: click a digest</div>"
    ]
    for item in found["documents"]:
        anchor = f" id=blob-{item['digest'][7:]}" if "digest" in item else ""
        parts.append(
            f"<div class=doc{anchor}><b>{_e(item['name'])}</b> <span class=note>{_e(item['role'])}"
            f"</span><pre class=json>{_linked_json(item['json'], blobs, set_by)}</pre></div>"
        )
    for layer in found["layers"]:
        where = (
            f"<span class=set-by data-line={layer['line']}>line {layer['line']}: {_e(layer['text'])}</span>"
            if layer["line"]
            else _e(layer["text"])
        )
        parts.append(
            f"<div class=doc id=blob-{layer['digest'][7:]}><b>{_e(layer['name'])}</b> "
            f"<span class=note>layer {layer['number']}, {layer['size']} bytes, "
            f"{_e(layer['media_type'])}</span><div>{where}</div>"
            f"<div class='digest note'>diff_id {_e(layer['diff_id'])}</div></div>"
        )
    return f"<section class=image>{''.join(parts)}</section>"


def _runs(runs: dict[str, Any]) -> str:
    def where(key: str) -> str:
        return "".join(
            f" <span class=set-by data-line={n}>&larr; line {n}</span>" for n in runs["set_by"][key]
        )

    rows = [
        (
            "command",
            _json(runs["argv"]) if runs["argv"] else "(nothing)",
            where("Entrypoint") + where("Cmd"),
        ),
        ("user", _e(runs["user"]), where("User")),
        ("workdir", _e(runs["workdir"]), where("WorkingDir")),
        ("env", "<br>".join(_e(v) for v in runs["env"]) or "(none)", where("Env")),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}{w}</td></tr>" for k, v, w in rows)
    notes = "".join(f"<div class=note>{_e(note)}</div>" for note in runs["notes"])
    return f"<section class=image><h2>what runs</h2><table>{table}</table>{notes}</section>"


def _time(time: dict[str, Any]) -> str:
    return (
        "<section class=image><h2>time</h2><table>"
        f"<tr><th>created</th><td>{_e(time['created'])}</td></tr>"
        f"<tr><th>file mtimes</th><td>{_e(time['file_mtimes'])}</td></tr>"
        f"<tr><th>from</th><td>{_e(time['source'])}</td></tr></table>"
        f"<div class=note>{_e(time['set_by'])}</div></section>"
    )


def _why(document: dict[str, Any]) -> str:
    """explain --why / --against, answered first: the question the page was asked."""
    from . import why

    parts = []
    if document.get("why"):
        parts.append(why.render_text(document["why"]))
    if document.get("against"):
        parts.append(why.render_against(document["against"]))
    if not parts:
        return ""
    return f"<section class=image><h2>why it changed</h2><pre class=json>{_e(''.join(parts))}</pre></section>"
