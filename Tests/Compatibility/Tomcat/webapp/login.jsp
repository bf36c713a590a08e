<%-- POST /login, form user=NAME: a new session holding the user (session-node's POST /login). The new id after
     an existing session is dropped, as session-node does against fixation. 200 with a small JSON body. --%><%@
page session="false" contentType="application/json" trimDirectiveWhitespaces="true" %><%
    jakarta.servlet.http.HttpSession old = request.getSession(false);
    if (old != null) old.invalidate();
    jakarta.servlet.http.HttpSession fresh = request.getSession(true);
    String user = request.getParameter("user");
    fresh.setAttribute("user", user == null ? "" : user);
%>{"session":"<%= fresh.getId() %>"}
