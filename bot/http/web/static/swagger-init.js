// /docs: Swagger UI over this server's OpenAPI document (a file, so the page's CSP needs no
// inline script). Writes with the inbox session send its CSRF token once "Authorize" has it.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    persistAuthorization: false,
  });
})();
