// The page's markup and style (docs/web-view.md). Plain HTML and CSS: the page loads nothing.

extension WebPage {
    static let body = #"""
        <header id="bar">
          <span class="brand">roar</span>
          <span id="title"></span>
          <span id="summary"></span>
          <span class="spacer"></span>
          <div id="search-box">
            <input id="search" type="search" placeholder="Search jobs, functions, files…  ( / )" autocomplete="off"
              spellcheck="false" aria-label="Search jobs, functions and files">
            <ol id="results" hidden></ol>
          </div>
          <label class="toggle"><input id="labels" type="checkbox" checked> edge labels</label>
          <button id="fit" type="button" title="Fit the graph to the window">Fit</button>
        </header>
        <main>
          <div id="canvas">
            <svg id="graph" xmlns="http://www.w3.org/2000/svg"><g id="viewport"><g id="edges"></g><g id="nodes"></g></g></svg>
            <div id="legend">
              <span><i class="dot ok"></i>ok</span><span><i class="dot failed"></i>failed</span>
              <span><i class="dot killed"></i>killed</span><span><i class="dot partial"></i>partial</span>
              <span><i class="dot running"></i>running</span>
              <span><i class="swatch up"></i>upstream</span><span><i class="swatch down"></i>downstream</span>
              <span class="hint">wheel: zoom · drag: pan · click: details · Esc: clear</span>
            </div>
          </div>
          <aside id="panel"><div id="details"><p class="empty">Click a job or a group to see what it read and
            wrote, its digests and its Ray ids. Its upstream and downstream light up in the graph.</p></div></aside>
        </main>
        """#

    static let style = #"""
        :root { --ok: #2e9d57; --failed: #d83b3b; --killed: #e07b1a; --partial: #c9a400; --running: #2f6fd6;
          --up: #2f6fd6; --down: #d9760b; --ink: #1d2330; --muted: #667085; --line: #d5dae3; --bg: #f6f7fa;
          --mono: "DejaVu Sans Mono", "Menlo", "Consolas", monospace; }
        * { box-sizing: border-box; }
        html, body { margin: 0; height: 100%; }
        body { font: 13px/1.45 system-ui, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg);
          display: flex; flex-direction: column; overflow: hidden; }
        #bar { display: flex; align-items: center; gap: 14px; padding: 8px 14px; background: #1d2330; color: #e9edf5;
          flex: none; }
        #bar .brand { font-weight: 700; letter-spacing: .04em; color: #ffb347; font-size: 15px; }
        #title { font-weight: 600; font-size: 14px; }
        #summary { color: #aab3c5; }
        .spacer { flex: 1; }
        #search-box { position: relative; }
        #search { width: 340px; padding: 6px 10px; border-radius: 6px; border: 1px solid #3d4657; background: #2a3142;
          color: #fff; font: inherit; }
        #search:focus { outline: 2px solid #ffb347; }
        #results { position: absolute; right: 0; top: 34px; width: 480px; max-height: 60vh; overflow: auto; margin: 0;
          padding: 4px 0; list-style: none; background: #fff; color: var(--ink); border-radius: 6px; z-index: 10;
          box-shadow: 0 8px 24px rgba(0,0,0,.25); }
        #results li { padding: 6px 12px; cursor: pointer; display: flex; gap: 8px; align-items: baseline; }
        #results li.active, #results li:hover { background: #eef3ff; }
        #results .what { font-size: 11px; color: var(--muted); text-transform: uppercase; min-width: 38px; }
        #results .name { font-family: var(--mono); font-size: 12px; word-break: break-all; }
        #results .more { color: var(--muted); font-size: 12px; }
        .toggle { color: #aab3c5; user-select: none; }
        #fit { padding: 5px 12px; border-radius: 6px; border: 1px solid #3d4657; background: #2a3142; color: #fff;
          cursor: pointer; font: inherit; }
        main { flex: 1; display: flex; min-height: 0; }
        #canvas { flex: 1; position: relative; min-width: 0; }
        #graph { width: 100%; height: 100%; display: block; cursor: grab; user-select: none; }
        #graph.panning { cursor: grabbing; }
        #legend { position: absolute; left: 12px; bottom: 10px; display: flex; flex-wrap: wrap; gap: 12px;
          background: rgba(255,255,255,.92); border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px;
          font-size: 12px; color: var(--muted); }
        #legend .hint { color: #98a2b3; }
        .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 5px; }
        .dot.ok { background: var(--ok); } .dot.failed { background: var(--failed); }
        .dot.killed { background: var(--killed); } .dot.partial { background: var(--partial); }
        .dot.running { background: var(--running); }
        .swatch { display: inline-block; width: 14px; height: 4px; margin-right: 5px; vertical-align: middle; }
        .swatch.up { background: var(--up); } .swatch.down { background: var(--down); }
        #panel { width: 460px; flex: none; background: #fff; border-left: 1px solid var(--line); overflow: auto;
          padding: 14px 16px 40px; }
        #panel .empty { color: var(--muted); }
        #panel h2 { font-size: 16px; margin: 0 0 4px; font-family: var(--mono); word-break: break-all; }
        #panel h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted);
          margin: 18px 0 6px; border-bottom: 1px solid var(--line); padding-bottom: 3px; }
        .pill { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
          font-weight: 600; margin-right: 4px; }
        .pill.ok { background: var(--ok); } .pill.failed { background: var(--failed); }
        .pill.killed { background: var(--killed); } .pill.partial { background: var(--partial); }
        .pill.running { background: var(--running); }
        table.fields { border-collapse: collapse; width: 100%; }
        table.fields th { text-align: left; font-weight: 500; color: var(--muted); padding: 2px 10px 2px 0;
          vertical-align: top; white-space: nowrap; width: 1%; }
        table.fields td { font-family: var(--mono); font-size: 12px; word-break: break-all; padding: 2px 0; }
        pre.error { background: #fff1f1; color: #8a1f1f; border: 1px solid #f3c4c4; border-radius: 4px; padding: 6px 8px;
          white-space: pre-wrap; word-break: break-word; font-size: 12px; max-height: 220px; overflow: auto; }
        .ref { border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; margin: 6px 0; }
        .ref.flash { outline: 3px solid #ffb347; }
        .ref .path { font-family: var(--mono); font-size: 12px; word-break: break-all; font-weight: 600; }
        .ref .meta { color: var(--muted); font-size: 12px; margin-top: 2px; }
        .ref .kind { display: inline-block; font-size: 11px; border-radius: 3px; padding: 0 5px; margin-right: 6px;
          background: #eef1f6; color: #344054; }
        .ref .kind.s3 { background: #fff4e0; color: #8a4b00; } .ref .kind.composite { background: #e9f7ef; color: #11603a; }
        .digest { font-family: var(--mono); font-size: 11px; word-break: break-all; color: #344054; }
        .digest b { font-weight: 600; color: var(--muted); margin-right: 4px; }
        .ref details { margin-top: 4px; } .ref summary { cursor: pointer; color: var(--muted); font-size: 12px; }
        .part { font-family: var(--mono); font-size: 11px; padding: 2px 0; border-top: 1px dashed #eceff4; }
        a.job { color: #2457c5; cursor: pointer; text-decoration: none; font-family: var(--mono); font-size: 12px; }
        a.job:hover { text-decoration: underline; }
        button.more { margin: 6px 0; padding: 3px 10px; border: 1px solid var(--line); border-radius: 5px;
          background: #f7f8fb; cursor: pointer; font: inherit; }
        .chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0; }
        .chip { border: 1px solid var(--line); border-radius: 12px; padding: 2px 10px; cursor: pointer; background: #fff;
          font: inherit; }
        .chip.on { background: #1d2330; color: #fff; border-color: #1d2330; }
        .member { display: flex; gap: 8px; align-items: baseline; padding: 4px 6px; border-radius: 4px; cursor: pointer; }
        .member:hover { background: #f1f4fa; }
        .member .id { font-family: var(--mono); font-size: 12px; }
        .member .extra { color: var(--muted); font-size: 12px; margin-left: auto; white-space: nowrap; }
        .member .err { color: var(--failed); font-size: 12px; word-break: break-word; }
        .back { margin-bottom: 8px; display: inline-block; }
        /* The graph */
        .node rect.box { fill: #fff; stroke: #9aa4b5; stroke-width: 1.2; }
        .node rect.stack { fill: #fff; stroke: #b8c0cc; stroke-width: 1; }
        .node .bar { stroke: none; }
        .node text { font-family: var(--mono); font-size: 12px; fill: var(--ink); pointer-events: none; }
        .node text.title { font-weight: 700; }
        .node text.meta { fill: var(--muted); font-size: 11.5px; }
        .node { cursor: pointer; }
        .node:hover rect.box { stroke: #1d2330; }
        .node.run rect.box { fill: #fbf7ee; }
        .node.selected rect.box { stroke: #1d2330; stroke-width: 3; }
        .node.up rect.box { stroke: var(--up); stroke-width: 2.5; fill: #eef4ff; }
        .node.down rect.box { stroke: var(--down); stroke-width: 2.5; fill: #fff5eb; }
        .node.hit rect.box { stroke: #ffb347; stroke-width: 4; }
        .dimmed { opacity: .28; }
        .edge path { fill: none; stroke: #8d97a8; stroke-width: 1.4; }
        .edge polygon { fill: #8d97a8; stroke: none; }
        .edge.parent path { stroke-dasharray: 5 4; stroke: #b9c0cc; }
        .edge.parent polygon { fill: #b9c0cc; }
        .edge path.hit-area { stroke: transparent !important; stroke-width: 12 !important; }
        .edge text { font-family: var(--mono); font-size: 10.5px; fill: #4a5466; }
        .edge.up path { stroke: var(--up); stroke-width: 2.6; } .edge.up polygon { fill: var(--up); }
        .edge.down path { stroke: var(--down); stroke-width: 2.6; } .edge.down polygon { fill: var(--down); }
        .edge.up text { fill: var(--up); } .edge.down text { fill: var(--down); }
        .edge rect.label-back { fill: var(--bg); fill-opacity: .92; stroke: none; }
        body.nolabels .edge text, body.nolabels .edge rect.label-back { display: none; }
        """#
}
