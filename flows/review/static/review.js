// Links a value row and its box on the page image: hovering either lights up both,
// clicking a row scrolls its page into view. Everything works without it.
(function () {
  function all(key) { return document.querySelectorAll('[data-box="' + key + '"]'); }
  document.querySelectorAll("[data-box]").forEach(function (el) {
    var key = el.getAttribute("data-box");
    el.addEventListener("mouseenter", function () { all(key).forEach(function (x) { x.classList.add("hot"); }); });
    el.addEventListener("mouseleave", function () { all(key).forEach(function (x) { x.classList.remove("hot"); }); });
    if (el.tagName === "TR") {
      el.addEventListener("click", function (event) {
        if (event.target.closest("form")) { return; }
        var box = document.querySelector('.box[data-box="' + key + '"]');
        if (box) { box.scrollIntoView({ block: "center", behavior: "smooth" }); }
      });
    }
  });
})();
