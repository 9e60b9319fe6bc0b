# A stand-in for systemd's notify socket in tests: prints each datagram and closes the file
# descriptors passed with it, which completes the BARRIER=1 handshake of systemd-notify (v246+).
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array('i'); fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
            for fd in fds: os.close(fd)
    sys.stdout.write(msg.decode() + '\n'); sys.stdout.flush()
