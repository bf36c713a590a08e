"""A Flask app keeping its sessions with Flask-Session's Redis backend, unchanged, pointed at one node's Redis
port. Usage: flask_app.py HTTP_PORT REDIS_PORT NAME"""
import sys

import redis
from flask import Flask, jsonify, request, session
from flask_session import Session

http_port, redis_port, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
app = Flask(__name__)
app.config.update(
    SECRET_KEY="integration test only",
    SESSION_TYPE="redis",
    SESSION_REDIS=redis.Redis(host="127.0.0.1", port=redis_port),
    SESSION_PERMANENT=True,
)
Session(app)


@app.post("/login")
def login():
    session.clear()
    session["user"] = request.form["user"]
    return jsonify(app=name, user=session["user"])


@app.put("/attributes/<key>")
def put(key):
    session.setdefault("attributes", {})[key] = request.get_data(as_text=True)
    session.modified = True
    return jsonify(app=name)


@app.get("/session")
def read():
    if "user" not in session:
        return jsonify(app=name, user=None), 401
    return jsonify(app=name, user=session["user"], attributes=session.get("attributes", {}))


@app.post("/logout")
def logout():
    session.clear()
    return jsonify(app=name)


@app.get("/healthz")
def healthz():
    return "ok"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=http_port, threaded=True)
