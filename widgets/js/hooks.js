export default {
  async render({ model, el }) {
    el.style.display = "none";
    suppressShortcuts(el);
    if (model.get("figure")) await figureOf(model);
  },
};
