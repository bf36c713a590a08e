/// Standard reason phrases (RFC 9110 §15) for the statuses the session front end answers with.
extension HTTPResponse {
    /// The reason phrase for `status`; for a code not in the table, the name of its class (RFC 9110 §15:
    /// clients MUST treat an unknown code as the x00 of its class, and the phrase is informational only).
    public static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: classPhrase(for: status)
        }
    }

    static func classPhrase(for status: Int) -> String {
        switch status {
        case 100...199: "Informational"
        case 200...299: "Success"
        case 300...399: "Redirection"
        case 400...499: "Client Error"
        case 500...599: "Server Error"
        default: "Unknown"
        }
    }
}
