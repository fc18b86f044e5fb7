// Starts Swagger UI on the API's own OpenAPI document. Kept in a file (not inline) so the
// page can forbid inline scripts; validatorUrl null keeps the UI from calling any outside
// service. The browser sends the session cookie with the document request, so a user logged
// in to metacrm sees the document; "Authorize" takes a JWT or a personal API token.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: new URL(root.dataset.specUrl, window.location.href).toString(),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    withCredentials: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
