// The page's script (docs/web-view.md): vanilla JavaScript, no library. It reads the embedded
// `roar.web/1` document and draws the layout Graphviz computed; it computes no layout itself.

extension WebPage {
    static let script = #"""
        "use strict";
        (function () {
          const started = performance.now();
          const data = JSON.parse(document.getElementById("roar-data").textContent);
          const dag = data.dag, view = data.view, layout = data.layout;
          // A dataset's parts are embedded once (docs/web-view.md): every ref of it shares the list.
          for (const job of dag.jobs) {
            for (const ref of [...job.inputs, ...job.outputs]) {
              const parts = ref.kind === "composite" && data.composites[(ref.hashes || {}).blake3_merkle];
              if (parts && !ref.components) ref.components = parts;
            }
          }
          const SVG = "http://www.w3.org/2000/svg";
          const STATUSES = ["ok", "failed", "killed", "partial", "running"];
          const jobs = new Map(dag.jobs.map((job) => [job.uid, job]));
          const nodes = new Map(view.nodes.map((node) => [node.id, node]));
          const nodeOfJob = new Map();
          view.nodes.forEach((node) => node.jobs.forEach((uid) => nodeOfJob.set(uid, node.id)));
          const upstreamOf = new Map(), downstreamOf = new Map(), edgesInto = new Map(), edgesOutOf = new Map();
          const push = (map, key, value) => { (map.get(key) || map.set(key, []).get(key)).push(value); };
          for (const edge of dag.edges) {
            push(downstreamOf, edge.from, edge.to); push(upstreamOf, edge.to, edge.from);
            push(edgesInto, edge.to, edge); push(edgesOutOf, edge.from, edge);
          }
          const $ = (id) => document.getElementById(id);
          const svg = $("graph"), viewport = $("viewport"), details = $("details");
          const nodeElements = new Map(), edgeElements = new Map();

          function html(tag, attributes, ...children) {
            const element = document.createElement(tag);
            for (const [key, value] of Object.entries(attributes || {})) {
              if (key === "on") { for (const [name, f] of Object.entries(value)) element.addEventListener(name, f); }
              else if (value !== null && value !== undefined) element.setAttribute(key, value);
            }
            for (const child of children) {
              if (child === null || child === undefined) continue;
              element.append(child instanceof Node ? child : document.createTextNode(String(child)));
            }
            return element;
          }
          function vector(tag, attributes, text) {
            const element = document.createElementNS(SVG, tag);
            for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, value);
            if (text !== undefined) element.textContent = text;
            return element;
          }
          const project = data.project || "";
          const shown = (path) => path.startsWith(project + "/") ? path.slice(project.length + 1) : path;
          const cut = (text, n) => text.length > n ? text.slice(0, n - 1) + "…" : text;
          const title = (job) => job.ray ? job.ray.function + (job.ray.attempt > 0 ? " (attempt " + job.ray.attempt + ")" : "")
            : job.command;
          function bytes(size) {
            if (size === null || size === undefined) return "size unknown";
            const units = ["B", "KiB", "MiB", "GiB", "TiB"];
            let value = size, unit = 0;
            while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
            return (unit ? value.toFixed(1) : value) + " " + units[unit] + (unit ? " (" + size + " B)" : "");
          }
          function seconds(value) {
            if (value === null || value === undefined) return null;
            if (value < 0.01) return (value * 1000).toFixed(value < 0.001 ? 2 : 1) + " ms";
            return value < 1 ? Math.round(value * 1000) + " ms" : value.toFixed(value < 100 ? 2 : 0) + " s";
          }
          const statusLine = (counts) => STATUSES.filter((s) => counts[s]).map((s) => counts[s] + " " + s);

          // ---- drawing -----------------------------------------------------------------------------
          function splinePath(points) {
            if (!points.length) return "";
            let d = "M" + points[0][0] + "," + points[0][1];
            for (let i = 1; i + 2 < points.length + 0; i += 3) {
              d += " C" + points[i] + " " + points[i + 1] + " " + points[i + 2];
            }
            return d;
          }
          function arrowHead(from, tip) {
            const dx = tip[0] - from[0], dy = tip[1] - from[1], length = Math.hypot(dx, dy) || 1;
            const ux = dx / length, uy = dy / length, w = 4;
            const bx = tip[0] - ux * 9, by = tip[1] - uy * 9;
            return [tip, [bx - uy * w, by + ux * w], [bx + uy * w, by - ux * w]].map((p) => p.join(",")).join(" ");
          }
          function drawEdges() {
            const group = $("edges");
            for (const edge of view.edges) {
              const geometry = layout.edges[edge.id];
              if (!geometry) continue;
              const g = vector("g", { class: "edge " + edge.kind, "data-edge-id": edge.id });
              const d = splinePath(geometry.points);
              g.append(vector("path", { d: d, class: "hit-area" }), vector("path", { d: d }));
              const last = geometry.points[geometry.points.length - 1];
              if (geometry.arrowTip && last) g.append(vector("polygon", { points: arrowHead(last, geometry.arrowTip) }));
              if (geometry.labelAt && edge.label) {
                const [lx, ly] = geometry.labelAt, width = edge.label.length * 6.4 + 8;
                g.append(vector("rect", { class: "label-back", x: lx - width / 2, y: ly - 8, width: width, height: 15,
                  rx: 3 }));
                g.append(vector("text", { x: lx, y: ly + 3.5, "text-anchor": "middle" }, edge.label));
              }
              const tip = edge.kind === "parent" ? "started by (no file passed)"
                : edge.files.slice(0, 40).map((f) => shown(f.path) + (f.parts ? "/ (" + f.parts + " parts)" : ""))
                  .join("\n") + (edge.files.length > 40 ? "\n… " + edge.files.length + " in all" : "");
              g.append(vector("title", {}, tip));
              group.append(g);
              edgeElements.set(edge.id, g);
            }
          }
          function drawNodes() {
            const group = $("nodes");
            for (const node of view.nodes) {
              const box = layout.nodes[node.id];
              if (!box) continue;
              const x = box.x - box.width / 2, y = box.y - box.height / 2;
              const isGroup = node.kind === "group";
              const g = vector("g", {
                class: "node " + node.kind + " " + node.role, "data-node-id": node.id, "data-kind": node.kind,
                transform: "translate(" + x + "," + y + ")",
              });
              const w = box.width - (isGroup ? 8 : 0), h = box.height - (isGroup ? 8 : 0);
              if (isGroup) {
                g.append(vector("rect", { class: "stack", x: 8, y: 8, width: w, height: h, rx: 6 }));
                g.append(vector("rect", { class: "stack", x: 4, y: 4, width: w, height: h, rx: 6 }));
              }
              g.append(vector("rect", { class: "box", x: 0, y: 0, width: w, height: h, rx: 6 }));
              // The status bar: one band per status, as wide as its share of the jobs.
              let offset = 0;
              for (const status of STATUSES) {
                const count = node.statusCounts[status] || 0;
                if (!count) continue;
                const share = (h - 8) * count / node.jobs.length;
                g.append(vector("rect", { class: "bar", x: 3, y: 4 + offset, width: 5, height: Math.max(share, 2),
                  fill: "var(--" + status + ")" }));
                offset += share;
              }
              const characters = Math.floor((w - 24) / 7.4);
              g.append(vector("text", { class: "title", x: 16, y: h / 2 - 4 }, cut(node.title, characters)));
              const meta = vector("text", { class: "meta", x: 16, y: h / 2 + 12 });
              if (isGroup) {
                statusLine(node.statusCounts).forEach((part, index) => {
                  if (index) meta.append(vector("tspan", {}, " · "));
                  const status = part.split(" ")[1];
                  meta.append(vector("tspan", { fill: status === "ok" ? "var(--ok)" : "var(--" + status + ")" }, part));
                });
              } else {
                meta.textContent = cut(node.subtitle, characters);
              }
              g.append(meta);
              g.append(vector("title", {}, node.kind === "group"
                ? node.title + "\n" + statusLine(node.statusCounts).join(" · ") : title(jobs.get(node.jobs[0]))));
              group.append(g);
              nodeElements.set(node.id, g);
            }
          }

          // ---- zoom and pan ------------------------------------------------------------------------
          const camera = { k: 1, x: 0, y: 0 };
          const apply = () => viewport.setAttribute("transform",
            "translate(" + camera.x + "," + camera.y + ") scale(" + camera.k + ")");
          function fit() {
            const rect = svg.getBoundingClientRect();
            const legend = 48;  // the legend's band at the bottom
            const k = Math.min(rect.width / layout.width, (rect.height - legend) / layout.height, 1.4) * 0.96;
            camera.k = k;
            camera.x = (rect.width - layout.width * k) / 2;
            camera.y = (rect.height - legend - layout.height * k) / 2;
            apply();
          }
          function centre(nodeId) {
            const box = layout.nodes[nodeId];
            if (!box) return;
            const rect = svg.getBoundingClientRect();
            camera.k = Math.max(camera.k, 0.8);
            camera.x = rect.width / 2 - box.x * camera.k;
            camera.y = rect.height / 2 - box.y * camera.k;
            apply();
          }
          svg.addEventListener("wheel", (event) => {
            event.preventDefault();
            const rect = svg.getBoundingClientRect();
            const px = event.clientX - rect.left, py = event.clientY - rect.top;
            const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
            const k = Math.min(Math.max(camera.k * factor, 0.05), 8);
            camera.x = px - (px - camera.x) * (k / camera.k);
            camera.y = py - (py - camera.y) * (k / camera.k);
            camera.k = k;
            apply();
          }, { passive: false });
          let drag = null;
          svg.addEventListener("pointerdown", (event) => {
            drag = { x: event.clientX, y: event.clientY, cx: camera.x, cy: camera.y, moved: false };
          });
          window.addEventListener("pointermove", (event) => {
            if (!drag) return;
            const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
            if (!drag.moved && Math.hypot(dx, dy) < 4) return;
            drag.moved = true;
            svg.classList.add("panning");
            camera.x = drag.cx + dx; camera.y = drag.cy + dy;
            apply();
          });
          window.addEventListener("pointerup", () => { svg.classList.remove("panning"); setTimeout(() => { drag = null; }); });
          svg.addEventListener("click", (event) => {
            if (drag && drag.moved) return;
            const target = event.target.closest("[data-node-id]");
            if (target) select(target.getAttribute("data-node-id"));
            else clearSelection();
          });

          // ---- selection and lineage ---------------------------------------------------------------
          function walk(start, next) {
            const seen = new Set(start), queue = [...start], found = new Set();
            while (queue.length) {
              for (const other of next.get(queue.pop()) || []) {
                if (!seen.has(other)) { seen.add(other); found.add(other); queue.push(other); }
              }
            }
            return found;
          }
          function highlight(nodeId, uids) {
            const toNodes = (set) => new Set([...set].map((uid) => nodeOfJob.get(uid)).filter((id) => id && id !== nodeId));
            const up = toNodes(walk(uids, upstreamOf)), down = toNodes(walk(uids, downstreamOf));
            for (const [id, element] of nodeElements) {
              element.classList.toggle("selected", id === nodeId);
              element.classList.toggle("up", up.has(id));
              element.classList.toggle("down", down.has(id) && !up.has(id));
              element.classList.toggle("dimmed", id !== nodeId && !up.has(id) && !down.has(id));
            }
            for (const edge of view.edges) {
              const element = edgeElements.get(edge.id);
              if (!element) continue;
              const isUp = edge.kind === "data" && up.has(edge.from) && (up.has(edge.to) || edge.to === nodeId);
              const isDown = edge.kind === "data" && down.has(edge.to) && (down.has(edge.from) || edge.from === nodeId);
              element.classList.toggle("up", isUp);
              element.classList.toggle("down", isDown && !isUp);
              element.classList.toggle("dimmed", !isUp && !isDown);
            }
          }
          function clearSelection() {
            for (const element of [...nodeElements.values(), ...edgeElements.values()]) {
              element.classList.remove("selected", "up", "down", "dimmed", "hit");
            }
            details.replaceChildren(html("p", { class: "empty" }, "Click a job or a group to see what it read and wrote, "
              + "its digests and its Ray ids. Its upstream and downstream light up in the graph."));
            document.body.dataset.selected = "";
          }
          // Selects a node; for a group, `memberUid` opens one of its jobs.
          function select(nodeId, memberUid, flashPath) {
            const node = nodes.get(nodeId);
            if (!node) return;
            highlight(nodeId, memberUid ? [memberUid] : node.jobs);
            document.body.dataset.selected = nodeId;
            if (node.kind === "group" && !memberUid) showGroup(node);
            else showJob(jobs.get(memberUid || node.jobs[0]), node.kind === "group" ? node : null, flashPath);
            details.parentElement.scrollTop = 0;
          }
          function selectJob(uid, flashPath) {
            const nodeId = nodeOfJob.get(uid);
            if (!nodeId) return;
            select(nodeId, nodes.get(nodeId).kind === "group" ? uid : null, flashPath);
            centre(nodeId);
          }
          const jobLink = (uid) => {
            const job = jobs.get(uid);
            return html("a", { class: "job", on: { click: () => selectJob(uid) } },
              job ? "@" + (job.step ?? "?") + " " + cut(title(job), 48) : uid);
          };

          // ---- the side panel ----------------------------------------------------------------------
          function fields(rows) {
            const table = html("table", { class: "fields" });
            for (const [name, value] of rows) {
              if (value === null || value === undefined || value === "") continue;
              table.append(html("tr", {}, html("th", {}, name), html("td", {}, value)));
            }
            return table;
          }
          function refCard(ref, links) {
            const card = html("div", { class: "ref", "data-path": ref.path },
              html("div", { class: "path" }, ref.path),
              html("div", { class: "meta" }, html("span", { class: "kind " + ref.kind }, ref.kind), bytes(ref.size),
                ref.capture ? " · " + ref.capture : "", ref.cluster_only ? " · on the cluster only" : ""));
            const algorithms = Object.keys(ref.hashes || {}).sort();
            if (!algorithms.length) card.append(html("div", { class: "digest" }, "no digest (changed before it was hashed)"));
            for (const algorithm of algorithms) {
              card.append(html("div", { class: "digest" }, html("b", {}, algorithm), ref.hashes[algorithm]));
            }
            if (ref.components) {
              const list = html("details", {}, html("summary", {}, ref.components.length + " parts"));
              list.addEventListener("toggle", () => {
                if (list.childElementCount > 1) return;
                for (const part of ref.components) {
                  const digests = Object.entries(part.hashes || {}).map(([a, d]) => a + ":" + d).join(" ");
                  list.append(html("div", { class: "part" }, part.name + "  " + bytes(part.size) + "  " + digests));
                }
              }, { once: true });
              card.append(list);
            }
            if (links && links.length) {
              const line = html("div", { class: "meta" }, links[0] + " ");
              links[1].slice(0, 3).forEach((uid, i) => { if (i) line.append(", "); line.append(jobLink(uid)); });
              if (links[1].length > 3) line.append(" and " + (links[1].length - 3) + " more");
              card.append(line);
            }
            return card;
          }
          function refList(heading, refs, linksOf) {
            const section = [html("h3", {}, heading + " (" + refs.length + ")")];
            const box = html("div", {});
            section.push(box);
            let shownCount = 0;
            const more = html("button", { class: "more", type: "button" });
            const page = () => {
              for (const ref of refs.slice(shownCount, shownCount + 200)) box.append(refCard(ref, linksOf && linksOf(ref)));
              shownCount = Math.min(refs.length, shownCount + 200);
              more.textContent = "show " + Math.min(200, refs.length - shownCount) + " more of " + refs.length;
              more.hidden = shownCount >= refs.length;
            };
            more.addEventListener("click", page);
            page();
            section.push(more);
            return section;
          }
          function showJob(job, group, flashPath) {
            const ray = job.ray || {};
            const head = [];
            if (group) head.push(html("a", { class: "job back", on: { click: () => select(group.id) } },
              "← " + group.title));
            head.push(html("h2", {}, title(job)));
            head.push(html("div", {}, html("span", { class: "pill " + job.status }, job.status),
              " job " + job.uid + " · " + (job.role === "run" ? "run" : "ray " + job.role)));
            const rows = [
              ["command", job.command], ["step", job.step !== null ? "@" + job.step : null],
              ["started", new Date(job.started_at * 1000).toISOString().replace("T", " ").replace("Z", " UTC")],
              ["duration", seconds(job.duration_s)], ["exit code", job.exit_code], ["cwd", job.cwd],
            ];
            if (job.ray) {
              rows.push(["function", ray.function], ["task id", ray.task_id], ["attempt", String(ray.attempt)],
                ["node id", ray.node_id], ["worker id", ray.worker_id], ["actor id", ray.actor_id],
                ["ray job id", ray.job_id]);
            }
            if (job.parent_uid) rows.push(["parent", jobs.has(job.parent_uid) ? jobLink(job.parent_uid) : job.parent_uid]);
            if (job.git) rows.push(["git", job.git.commit + (job.git.branch ? " (" + job.git.branch + ")" : "")
              + (job.git.dirty ? " dirty" : "")]);
            const lost = Object.entries(job.coverage || {}).map(([kind, n]) => kind + ": " + n).join(", ");
            rows.push(["not seen", lost]);
            const content = [...head, fields(rows)];
            if (job.error) content.push(html("h3", {}, "error"), html("pre", { class: "error" }, job.error));
            const writers = (ref) => {
              const from = (edgesInto.get(job.uid) || []).filter((e) => e.path === ref.path).map((e) => e.from);
              return from.length ? ["← written by", [...new Set(from)]] : null;
            };
            const readers = (ref) => {
              const to = (edgesOutOf.get(job.uid) || []).filter((e) => e.path === ref.path).map((e) => e.to);
              return to.length ? ["→ read by", [...new Set(to)]] : null;
            };
            content.push(...refList("inputs", job.inputs, writers), ...refList("outputs", job.outputs, readers));
            content.push(html("h3", {}, "deletes (" + job.deletes.length + ")"));
            for (const path of job.deletes) content.push(html("div", { class: "ref" }, html("div", { class: "path" }, path)));
            details.replaceChildren(...content);
            if (flashPath) {
              const card = [...details.querySelectorAll(".ref")].find((c) => c.getAttribute("data-path") === flashPath);
              if (card) { card.classList.add("flash"); card.scrollIntoView({ block: "center" }); }
            }
          }
          function showGroup(group) {
            const members = group.jobs.map((uid) => jobs.get(uid));
            const durations = members.map((j) => j.duration_s).filter((d) => d !== null);
            const total = durations.reduce((a, b) => a + b, 0);
            const content = [
              html("h2", {}, group.title),
              html("div", {}, ...statusLine(group.statusCounts).map((part) => html("span",
                { class: "pill " + part.split(" ")[1] }, part))),
              fields([
                ["members", members.length + " " + (group.role === "actor" ? "actor calls" : "Ray tasks")],
                ["step", group.step !== null ? "@" + group.step : null],
                ["parent", group.parent_uid && jobs.has(group.parent_uid) ? jobLink(group.parent_uid) : null],
                ["durations", durations.length ? "mean " + seconds(total / durations.length) + " · max "
                  + seconds(Math.max(...durations)) + " · total " + seconds(total) : null],
                ["nodes", String(new Set(members.map((j) => j.ray && j.ray.node_id)).size)],
              ]),
              html("h3", {}, "members"),
            ];
            let filter = null;
            const chips = html("div", { class: "chips" });
            const list = html("div", { class: "members" });
            const order = (job) => job.status === "ok" ? 1 : 0;
            const sorted = [...members].sort((a, b) => order(a) - order(b) || a.started_at - b.started_at);
            const render = () => {
              list.replaceChildren();
              for (const job of sorted) {
                if (filter && job.status !== filter) continue;
                const ray = job.ray || {};
                const row = html("div", { class: "member", "data-uid": job.uid, on: { click: () => select(group.id, job.uid) } },
                  html("i", { class: "dot " + job.status }),
                  html("span", { class: "id" }, ray.task_id ? "task " + ray.task_id.slice(0, 12) : "job " + job.uid),
                  html("span", { class: "extra" }, [ray.node_id ? "node " + ray.node_id.slice(0, 8) : null,
                    seconds(job.duration_s)].filter(Boolean).join(" · ")));
                list.append(row);
                if (job.error) list.append(html("div", { class: "member err" }, cut(job.error.split("\n").pop(), 160)));
              }
            };
            for (const status of [null, ...STATUSES.filter((s) => group.statusCounts[s])]) {
              const chip = html("button", { class: "chip" + (status === null ? " on" : ""), type: "button" },
                status === null ? "all " + members.length : group.statusCounts[status] + " " + status);
              chip.addEventListener("click", () => {
                filter = status;
                for (const other of chips.children) other.classList.toggle("on", other === chip);
                render();
              });
              chips.append(chip);
            }
            render();
            details.replaceChildren(...content, chips, list);
          }

          // ---- search ------------------------------------------------------------------------------
          const files = new Map();
          for (const job of dag.jobs) {
            for (const [refs, role] of [[job.inputs, "read"], [job.outputs, "wrote"]]) {
              for (const ref of refs) {
                const entry = files.get(ref.path) || files.set(ref.path, { wrote: [], read: [] }).get(ref.path);
                entry[role].push(job.uid);
              }
            }
            for (const path of job.deletes) {
              if (!files.has(path)) files.set(path, { wrote: [], read: [job.uid] });
            }
          }
          const jobText = new Map(dag.jobs.map((job) => [job.uid, [title(job), job.command, job.uid,
            job.ray ? job.ray.task_id : ""].join("\u0000").toLowerCase()]));
          const input = $("search"), results = $("results");
          let hits = [], active = 0;
          function search(query) {
            const q = query.trim().toLowerCase();
            hits = [];
            if (!q) { results.hidden = true; return hits; }
            const byNode = new Map();
            for (const [uid, text] of jobText) {
              if (!text.includes(q)) continue;
              const nodeId = nodeOfJob.get(uid);
              (byNode.get(nodeId) || byNode.set(nodeId, []).get(nodeId)).push(uid);
            }
            for (const [nodeId, uids] of byNode) {
              const node = nodes.get(nodeId);
              if (node.kind === "group" && uids.length > 1) {
                hits.push({ what: "group", name: node.title, more: uids.length + " matching", go: () => {
                  select(nodeId); centre(nodeId); } });
              } else {
                for (const uid of uids.slice(0, 20)) {
                  const job = jobs.get(uid);
                  hits.push({ what: job.role === "run" ? "run" : "task", name: "@" + (job.step ?? "?") + " " + title(job),
                    more: job.status, go: () => selectJob(uid) });
                }
              }
            }
            let fileHits = 0;
            for (const [path, entry] of files) {
              if (!path.toLowerCase().includes(q)) continue;
              if (++fileHits > 50) break;
              const uid = entry.wrote.length ? entry.wrote[entry.wrote.length - 1] : entry.read[0];
              hits.push({ what: "file", name: shown(path), more: entry.wrote.length ? "written by "
                + cut(title(jobs.get(uid)), 30) : "read by " + cut(title(jobs.get(uid)), 30), go: () => selectJob(uid, path) });
            }
            active = 0;
            results.replaceChildren(...hits.slice(0, 80).map((hit, index) => html("li",
              { class: index === 0 ? "active" : null, on: { mousedown: (e) => { e.preventDefault(); pick(index); } } },
              html("span", { class: "what" }, hit.what), html("span", { class: "name" }, hit.name),
              html("span", { class: "more" }, hit.more))));
            if (!hits.length) results.replaceChildren(html("li", {}, html("span", { class: "more" }, "nothing matches")));
            results.hidden = false;
            return hits;
          }
          function pick(index) {
            const hit = hits[index];
            if (!hit) return;
            results.hidden = true;
            hit.go();
            const element = nodeElements.get(document.body.dataset.selected);
            if (element) { element.classList.add("hit"); setTimeout(() => element.classList.remove("hit"), 1500); }
          }
          let timer = null;
          input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => search(input.value), 80); });
          input.addEventListener("keydown", (event) => {
            if (event.key === "Enter") { clearTimeout(timer); search(input.value); pick(active); }
            else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
              event.preventDefault();
              active = Math.max(0, Math.min(hits.length - 1, active + (event.key === "ArrowDown" ? 1 : -1)));
              [...results.children].forEach((li, i) => li.classList.toggle("active", i === active));
            } else if (event.key === "Escape") { results.hidden = true; input.blur(); }
          });
          input.addEventListener("blur", () => { results.hidden = true; });
          input.addEventListener("focus", () => { if (input.value.trim()) search(input.value); });
          document.addEventListener("keydown", (event) => {
            if (event.key === "/" && document.activeElement !== input) { event.preventDefault(); input.focus(); }
            else if (event.key === "Escape" && document.activeElement !== input) clearSelection();
          });

          // ---- start -------------------------------------------------------------------------------
          $("title").textContent = data.title;
          const counts = {};
          for (const job of dag.jobs) counts[job.status] = (counts[job.status] || 0) + 1;
          $("summary").textContent = dag.jobs.length + " jobs · " + view.nodes.length + " nodes · "
            + statusLine(counts).join(" · ");
          $("labels").addEventListener("change", (e) => document.body.classList.toggle("nolabels", !e.target.checked));
          $("fit").addEventListener("click", fit);
          window.addEventListener("resize", fit);
          drawEdges();
          drawNodes();
          fit();
          window.roarView = { select, selectJob, search, fit, data };
          document.body.dataset.readyMs = String(Math.round(performance.now() - started));
          document.body.dataset.ready = "1";
        })();
        """#
}
