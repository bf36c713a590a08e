<%-- /session/attributes/NAME on the session of the JSESSIONID cookie, as session-node answers it:
     PUT body -> the attribute set to the body, 204; GET -> the value, 200 (404 when unset); 401 without a session.
     isErrorPage="true": Jasper answers 405 to any method but GET, POST and HEAD on other pages. --%><%@
page session="false" isErrorPage="true" contentType="text/plain" trimDirectiveWhitespaces="true" %><%
    jakarta.servlet.http.HttpSession current = request.getSession(false);
    String info = request.getPathInfo();
    String name = info == null ? "" : info.substring(1);
    if (current == null) {
        response.setStatus(401);
    } else if (name.isEmpty()) {
        response.setStatus(404);
    } else if ("PUT".equals(request.getMethod())) {
        byte[] body = request.getInputStream().readNBytes(65536);
        current.setAttribute(name, new String(body, java.nio.charset.StandardCharsets.UTF_8));
        response.setStatus(204);
    } else {
        Object value = current.getAttribute(name);
        if (value == null) {
            response.setStatus(404);
        } else {
            out.print(value);
        }
    }
%>
