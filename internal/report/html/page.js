// The HTML report's only script: sorting the experiments table (a click on a
// column's name, or ?sort=KEY / ?sort=-KEY in the address) and unfolding the
// experiment the address names (#exp-N). The page reads fine without it.
(function () {
  "use strict";

  var table = document.getElementById("experiments-table");

  function key(row, col, numeric) {
    var cell = row.cells[col];
    var v = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
    if (!numeric) {
      return v;
    }
    var x = parseFloat(v);
    return isNaN(x) ? null : x;
  }

  // sortBy orders the rows by the column named key; rows without a value
  // go last either way.
  function sortBy(name, descending) {
    if (!table) {
      return false;
    }
    var th = table.querySelector("th[data-key='" + name + "']");
    if (!th) {
      return false;
    }
    var col = th.cellIndex;
    var numeric = th.hasAttribute("data-numeric");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, col, numeric), y = key(b, col, numeric);
      if (x === null || y === null) {
        return (x === null) - (y === null);
      }
      var c = numeric ? x - y : String(x).localeCompare(String(y));
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    return true;
  }

  if (table) {
    Array.prototype.forEach.call(table.querySelectorAll("th[data-key]"), function (th) {
      th.addEventListener("click", function () {
        sortBy(th.getAttribute("data-key"), th.getAttribute("aria-sort") === "ascending");
      });
    });
    var wanted = new URLSearchParams(window.location.search).get("sort");
    if (wanted) {
      var down = wanted.charAt(0) === "-";
      sortBy(down ? wanted.slice(1) : wanted, down);
    }
  }

  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === "DETAILS") {
      el.open = true;
    }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();

  document.documentElement.setAttribute("data-script", "ready");
})();
