"""http_clients.py - the clients http.sh runs against a spawn's --http front door; each prints 'ok WHAT' or 'FAIL WHAT: why'."""
import http.client
import json
import resource
import select
import socket
import sys
import threading
import time

HOST = '127.0.0.1'


def say(good, what, why=''):
    print(('ok   ' if good else 'FAIL ') + what + ('' if good else ': ' + why), flush=True)


def read_response(buf, sock, deadline):
    """one response from buf + what sock sends: (status, headers, body, rest); status 0 if none came"""
    while b'\r\n\r\n' not in buf:
        more = recv(sock, deadline)
        if not more:
            return 0, {}, b'', buf
        buf += more
    head, buf = buf.split(b'\r\n\r\n', 1)
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split(' ')[1])
    headers = {k.lower(): v.strip() for k, v in (l.split(':', 1) for l in lines[1:])}
    n = int(headers.get('content-length', '0'))
    while len(buf) < n:
        more = recv(sock, deadline)
        if not more:
            break
        buf += more
    return status, headers, buf[:n], buf[n:]


def recv(sock, deadline):
    """bytes, or b'' at the end, a reset, or the deadline"""
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([sock], [], [], left)[0]:
        return b''
    try:
        return sock.recv(65536)
    except OSError:
        return b''


def raw(port, data, timeout=30):
    """sends data on a connection of its own, reads one response: (status, headers, body)"""
    s = socket.create_connection((HOST, port))
    s.sendall(data)
    status, headers, body, _ = read_response(b'', s, time.monotonic() + timeout)
    s.close()
    return status, headers, body


def get(port, path, method='GET'):
    c = http.client.HTTPConnection(HOST, port, timeout=30)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def codes(port, n):
    """every status the front door answers, with http.client where it can send the request, raw bytes where not"""
    r, body = get(port, '/guests/1234/hello')
    say(r.status == 200 and body == b'200 OK /hello\n' and r.getheader('Content-Type') == 'text/plain',
        '200: GET /guests/1234/hello is guest 1234\'s answer line', '%d %r' % (r.status, body))
    r, body = get(port, '/guests/1234/hello', 'HEAD')
    say(r.status == 200 and body == b'' and r.getheader('Content-Length') == '14', 'HEAD: the head of a GET, no body',
        '%d %r %s' % (r.status, body, r.getheader('Content-Length')))
    r, body = get(port, '/guests/1234')
    info = json.loads(body)
    say(r.status == 200 and info['id'] == 1234 and info['state'] in ('running', 'halted', 'parked') and
        info['booted'] is True and isinstance(info['exits'], int), '200: /guests/1234 is its info as JSON', body)
    r, body = get(port, '/stats')
    stats = json.loads(body)
    say(r.status == 200 and stats['guests'] == n and r.getheader('Content-Type') == 'application/json',
        '200: /stats is the stats object', body[:200])
    r, body = get(port, '/metrics')
    say(r.status == 200 and b'# TYPE kvmlite_' in body and r.getheader('Content-Type').startswith('text/plain'),
        '200: /metrics is Prometheus text', body[:200])
    for path, why in (('/guests/%d/x' % (n + 5000), 'an unknown guest'), ('/nothing', 'an unknown path'),
                      ('/guests/12x/a', 'an id that is no number')):
        r, body = get(port, path)
        say(r.status == 404, '404: %s (%s)' % (why, path), '%d %r' % (r.status, body))
    r, body = get(port, '/guests/%d/x' % (n - 3))
    say(r.status == 503 and b'guest not running' in body, '503: a guest that ended', '%d %r' % (r.status, body))
    r, body = get(port, '/stats', 'POST')
    say(r.status == 405 and r.getheader('Allow') == 'GET, HEAD', '405: POST, with Allow', '%d' % r.status)
    long_path = '/guests/1/' + 'a' * 300
    r, body = get(port, long_path)
    say(r.status == 414, '414: a path longer than a guest line takes', '%d' % r.status)
    for name, req, want in (
            ('400: no Host in HTTP/1.1', b'GET /stats HTTP/1.1\r\n\r\n', 400),
            ('400: not HTTP at all', b'hello there\r\n\r\n', 400),
            ('400: a bare CR in a field', b'GET /stats HTTP/1.1\r\nHost: x\rY: z\r\n\r\n', 400),
            ('400: Content-Length and Transfer-Encoding both', b'GET /stats HTTP/1.1\r\nHost: x\r\n'
             b'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc', 400),
            ('413: a body over 64 KiB', b'GET /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n', 413),
            ('431: 9,000 bytes of header fields, answered before the client reads',
             b'GET /stats HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 9000 + b'\r\n\r\n', 431),
            ('501: a method HTTP does not know', b'BREW /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
             501),
            ('505: HTTP/2.0 in a request line', b'GET /stats HTTP/2.0\r\nHost: x\r\n\r\n', 505)):
        status, headers, body = raw(port, req)
        say(status == want and headers.get('connection') == 'close', name, '%d %r' % (status, body))
    # 504 and 503: guests n-4 and n-2 sleep and never read (alternate.S). A request to n-4
    # waits the 5 s request timeout; of two at once to n-2, one waits and the other finds it busy.
    got = {}

    def ask(key, path, delay):
        time.sleep(delay)
        got[key] = raw(port, ('GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path).encode(), 60)

    threads = [threading.Thread(target=ask, args=a) for a in (('t', '/guests/%d/x' % (n - 4), 0),
                                                              ('a', '/guests/%d/a' % (n - 2), 0),
                                                              ('b', '/guests/%d/b' % (n - 2), 0.5))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    say(got['t'][0] == 504, '504: a guest that does not answer within 5 s', repr(got['t']))
    say(sorted([got['a'][0], got['b'][0]]) == [503, 504] and b'busy' in min(got['a'], got['b'])[2],
        '503: a second request to a guest while one waits', '%r %r' % (got['a'], got['b']))


def keepalive(port, n):
    """200 requests on one http.client connection, to 200 guests: one socket throughout"""
    c = http.client.HTTPConnection(HOST, port, timeout=30)
    c.connect()
    first, good = c.sock, 0
    for i in range(200):
        c.request('GET', '/guests/%d/k%d' % (i * 5, i))
        r = c.getresponse()
        body = r.read()
        good += r.status == 200 and body == b'200 OK /k%d\n' % i and r.getheader('Connection') == 'keep-alive'
    say(good == 200 and c.sock is first, 'keep-alive: 200 requests answered on one connection',
        '%d good, same socket: %s' % (good, c.sock is first))
    c.close()
    status, headers, _ = raw(port, b'GET /guests/3/x HTTP/1.0\r\n\r\n')
    say(status == 200 and headers.get('connection') == 'close', 'HTTP/1.0 without keep-alive: closed after',
        '%d %r' % (status, headers))


def pipeline(port, n):
    """100 requests in one write, a 404 every tenth: 100 answers, in order"""
    s = socket.create_connection((HOST, port))
    want, reqs = [], b''
    for i in range(100):
        path = '/nothing%d' % i if i % 10 == 9 else '/guests/%d/p%d' % (i * 7, i)
        reqs += ('GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path).encode()
        want.append((404, None) if i % 10 == 9 else (200, b'200 OK /p%d\n' % i))
    s.sendall(reqs)
    buf, got, deadline = b'', [], time.monotonic() + 60
    for _ in range(100):
        status, _, body, buf = read_response(buf, s, deadline)
        got.append((status, body if status == 200 else None))
    s.close()
    bad = [i for i in range(100) if got[i] != want[i]]
    say(not bad, 'pipelining: 100 requests in one write, answered in order', 'wrong: %r' % bad[:5])


def whole(buf):
    """buf holds a whole response"""
    if b'\r\n\r\n' not in buf:
        return False
    head, body = buf.split(b'\r\n\r\n', 1)
    for line in head.split(b'\r\n'):
        if line.lower().startswith(b'content-length:'):
            return len(body) >= int(line.split(b':')[1])
    return True


def concurrent(port, n, count):
    """count connections open at once, then one request on each, to count guests: all answered"""
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    socks = [socket.create_connection((HOST, port)) for _ in range(count)]
    for i, s in enumerate(socks):
        s.sendall(b'GET /guests/%d/c%d HTTP/1.1\r\nHost: x\r\n\r\n' % (i % n, i))
    bufs = {s: b'' for s in socks}
    left, good, deadline = set(socks), 0, time.monotonic() + 120
    while left and time.monotonic() < deadline:
        for s in select.select(list(left), [], [], 1)[0]:
            more = s.recv(65536)
            bufs[s] += more
            if not more or whole(bufs[s]):
                left.discard(s)
    for i, s in enumerate(socks):
        good += bufs[s].startswith(b'HTTP/1.1 200 ') and bufs[s].endswith(b'\r\n\r\n200 OK /c%d\n' % i)
        s.close()
    say(good == count, '%d connections at once, each answered by its guest' % count, '%d of %d' % (good, count))


def stats(port):
    return json.loads(get(port, '/stats')[1])


def nonreader(port, n):
    """a client that sends 5,000 requests and reads nothing: others are answered meanwhile, and it is dropped"""
    dropped0 = stats(port)['clients_dropped']
    s = socket.create_connection((HOST, port))
    req = b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' * 5000

    def flood():
        try:
            s.sendall(req)
        except OSError:
            pass  # hung up on

    t = threading.Thread(target=flood)
    t.start()
    answered = 0
    for i in range(50):
        r, body = get(port, '/guests/%d/o%d' % (i, i))
        answered += r.status == 200 and body == b'200 OK /o%d\n' % i
    say(answered == 50, 'while a client reads nothing, 50 other requests are answered', '%d of 50' % answered)
    deadline, dropped = time.monotonic() + 120, dropped0
    while dropped == dropped0 and time.monotonic() < deadline:
        time.sleep(0.2)
        dropped = stats(port)['clients_dropped']
    say(dropped == dropped0 + 1, 'the client that reads nothing is dropped past 16 MiB of answers',
        'clients_dropped %d -> %d' % (dropped0, dropped))
    s.close()
    t.join()


def idle(port, n):
    """a connection that sends nothing, one that sends half a request line, and one after a keep-alive answer: closed"""
    socks = [socket.create_connection((HOST, port)) for _ in range(3)]
    socks[1].sendall(b'GET /gue')
    socks[2].sendall(b'GET /stats HTTP/1.1\r\nHost: x\r\n\r\n')
    _, _, _, rest = read_response(b'', socks[2], time.monotonic() + 30)
    deadline = time.monotonic() + 120
    for s, what in zip(socks, ('nothing sent', 'half a request line', 'after an answer, kept alive')):
        while recv(s, deadline):
            pass
        say(time.monotonic() < deadline and not rest, 'an idle client is hung up on (%s)' % what,
            'still open after 120 s')
        s.close()


def overload(port, n):
    """more clients at once than the supervisor has fds: each is answered 200 or refused with 503 (or reset),
    none waits for ever; once they are gone a newcomer is answered"""
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    socks = []
    for i in range(200):
        s = socket.create_connection((HOST, port))
        s.sendall(b'GET /guests/%d/o HTTP/1.1\r\nHost: x\r\n\r\n' % (i % n))
        socks.append(s)
    deadline, said = time.monotonic() + 120, []
    for s in socks:
        try:
            status, _, _, _ = read_response(b'', s, deadline)
        except (OSError, ValueError, IndexError):
            status = 0
        said.append(status)
        s.close()
    hung = time.monotonic() >= deadline
    say(not hung and said.count(200) > 0 and said.count(503) > 0 and said.count(200) + said.count(503) +
        said.count(0) == len(said), '200 clients at once beyond the fds: each served (200) or refused (503), none left '
        'waiting', '%d ok, %d refused, %d reset, hung %s' % (said.count(200), said.count(503), said.count(0), hung))
    # their sockets close on the supervisor's side as it reads their ends: asked until then
    deadline, status = time.monotonic() + 60, 0
    while status != 200 and time.monotonic() < deadline:
        try:
            r, body = get(port, '/guests/0/again')
            status = r.status if body == b'200 OK /again\n' or r.status != 200 else -1
        except OSError:
            status = 0
        if status != 200:
            time.sleep(0.1)
    say(status == 200, 'once they left, a newcomer is answered', 'last status %d' % status)


if __name__ == '__main__':
    group, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if group == 'concurrent':
        concurrent(port, n, int(sys.argv[4]))
    else:
        globals()[group](port, n)
