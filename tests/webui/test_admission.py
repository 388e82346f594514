"""At most a few people's requests run at once in a web process; job polls and health
checks never wait behind them."""
import threading

from webui.admission import Admission


def test_people_take_turns_while_job_polls_and_health_checks_go_straight_in():
    running, most, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def app(environ, start_response):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            if not environ["PATH_INFO"].startswith(("/api/jobs/", "/healthz")):
                release.wait(10)
            start_response("200 OK", [])
            return [environ["PATH_INFO"].encode()]
        finally:
            with lock:
                running[0] -= 1

    admitted = Admission(app, limit=2)
    answers = []

    def call(path):
        answers.append(b"".join(admitted({"PATH_INFO": path}, lambda *a: None)))

    people = [threading.Thread(target=call, args=(f"/inbox?{n}",)) for n in range(6)]
    for person in people:
        person.start()
    for _ in range(200):  # two are in, four wait their turn
        with lock:
            if running[0] == 2:
                break
        threading.Event().wait(0.01)
    assert running[0] == 2
    call("/api/jobs/fetch-and-lock")  # answered although both turns are taken
    call("/healthz")
    assert answers == [b"/api/jobs/fetch-and-lock", b"/healthz"]
    release.set()
    for person in people:
        person.join(10)
    assert len(answers) == 8 and most[0] == 3  # 2 people, and the poll or the health check
