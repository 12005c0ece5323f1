// Charts drawn as SVG by hand: an attention heatmap and horizontal bars. No library.
"use strict";
const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// rows[i] = weights of query i over keys 0..i, in thousandths; labels: the tokens.
// onHover(i, j, w) is called for the cell under the mouse or the keyboard cursor (arrow keys).
function heatmap(container, rows, labels, onHover, ariaLabel) {
  const T = rows.length, cell = Math.max(8, Math.min(24, Math.floor(560 / Math.max(T, 1)))), pad = 90;
  const size = pad + T * cell + 4;
  const svg = svgEl("svg", {width: size, height: size, viewBox: `0 0 ${size} ${size}`, tabindex: "0",
                            role: "img", "aria-label": ariaLabel, class: "heatmap"});
  for (let i = 0; i < T; i++) {
    const short = labels[i].length > 10 ? labels[i].slice(0, 9) + "…" : labels[i];
    svg.appendChild(svgEl("text", {x: pad - 4, y: pad + i * cell + cell * 0.7, "text-anchor": "end", class: "lab"}, short));
    svg.appendChild(svgEl("text", {x: 0, y: 0, class: "lab",
      transform: `translate(${pad + i * cell + cell * 0.7},${pad - 4}) rotate(-60)`}, short));
    for (let j = 0; j <= i; j++) {
      const w = rows[i][j] / 1000;
      const r = svgEl("rect", {x: pad + j * cell, y: pad + i * cell, width: cell - 1, height: cell - 1,
                               fill: `rgba(37, 99, 235, ${Math.max(0.03, w).toFixed(3)})`, "data-i": i, "data-j": j});
      svg.appendChild(r);
    }
  }
  const cursor = svgEl("rect", {class: "cursor", width: cell - 1, height: cell - 1, x: -100, y: -100});
  svg.appendChild(cursor);
  let ci = T - 1, cj = 0;
  const show = (i, j) => {
    ci = i; cj = j;
    cursor.setAttribute("x", pad + j * cell); cursor.setAttribute("y", pad + i * cell);
    onHover(i, j, rows[i][j] / 1000);
  };
  svg.addEventListener("mousemove", (e) => {
    const el = e.target;
    if (el.dataset && el.dataset.i !== undefined) show(+el.dataset.i, +el.dataset.j);
  });
  svg.addEventListener("keydown", (e) => {
    const moves = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
    if (!moves[e.key]) return;
    e.preventDefault();
    const i = Math.min(T - 1, Math.max(0, ci + moves[e.key][0]));
    show(i, Math.min(i, Math.max(0, cj + moves[e.key][1])));
  });
  svg.addEventListener("focus", () => show(ci, cj));
  container.replaceChildren(svg);
}

// items: [{label, value, text, dim}] -> one bar per row; value in 0..1 of the widest bar.
function hbars(container, items, ariaLabel) {
  const rowH = 20, labW = 190, barW = 360, h = items.length * rowH + 4;
  const svg = svgEl("svg", {width: labW + barW + 160, height: h, role: "img", "aria-label": ariaLabel, class: "hbars"});
  items.forEach((it, k) => {
    const y = k * rowH;
    svg.appendChild(svgEl("text", {x: labW - 6, y: y + 14, "text-anchor": "end", class: "lab"}, it.label));
    svg.appendChild(svgEl("rect", {x: labW, y: y + 3, height: rowH - 6, width: Math.max(1, it.value * barW),
                                   class: it.dim ? "bar dim" : "bar"}));
    svg.appendChild(svgEl("text", {x: labW + it.value * barW + 6, y: y + 14, class: "lab"}, it.text));
  });
  container.replaceChildren(svg);
}
