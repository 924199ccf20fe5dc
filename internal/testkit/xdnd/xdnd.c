/*
 * xdnd: a minimal XDND drag source for end-to-end tests of the desktop app.
 *
 *   xdnd TARGET_WINDOW_ID ROOT_X ROOT_Y PATH...
 *
 * Drops the absolute paths as a text/uri-list onto the target window at the
 * given root-window coordinates, the way a file manager does: XdndEnter,
 * XdndPosition, wait for XdndStatus, XdndDrop, answer the selection request,
 * wait for XdndFinished. Exits 0 when the target accepted and finished the
 * drop, 1 otherwise (refused, no XDND support, timeout). Protocol:
 * https://www.freedesktop.org/wiki/Specifications/XDND/ (version 5).
 *
 * Build: gcc -O2 -o xdnd xdnd.c -lX11
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static Display *dpy;
static Window src, target;
static Atom aAware, aEnter, aPosition, aStatus, aDrop, aFinished, aSelection,
    aActionCopy, aURIList;

static void send_client(Atom type, long l0, long l1, long l2, long l3, long l4)
{
	XEvent ev;
	memset(&ev, 0, sizeof ev);
	ev.xclient.type = ClientMessage;
	ev.xclient.display = dpy;
	ev.xclient.window = target;
	ev.xclient.message_type = type;
	ev.xclient.format = 32;
	ev.xclient.data.l[0] = l0;
	ev.xclient.data.l[1] = l1;
	ev.xclient.data.l[2] = l2;
	ev.xclient.data.l[3] = l3;
	ev.xclient.data.l[4] = l4;
	XSendEvent(dpy, target, False, NoEventMask, &ev);
	XFlush(dpy);
}

/* uri_list builds "file:///a\r\nfile:///b\r\n", percent-encoding bytes
 * outside the unreserved set and '/'. */
static char *uri_list(int n, char **paths)
{
	size_t cap = 1;
	for (int i = 0; i < n; i++)
		cap += 3 * strlen(paths[i]) + 10;
	char *out = malloc(cap), *p = out;
	for (int i = 0; i < n; i++) {
		p += sprintf(p, "file://");
		for (const unsigned char *c = (unsigned char *)paths[i]; *c; c++) {
			if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			    (*c >= '0' && *c <= '9') || strchr("/-._~", *c))
				*p++ = *c;
			else
				p += sprintf(p, "%%%02X", *c);
		}
		p += sprintf(p, "\r\n");
	}
	*p = 0;
	return out;
}

/* answer_selection gives the uri-list to whoever asks for XdndSelection. */
static void answer_selection(XSelectionRequestEvent *req, const char *list)
{
	XEvent reply;
	memset(&reply, 0, sizeof reply);
	reply.xselection.type = SelectionNotify;
	reply.xselection.display = req->display;
	reply.xselection.requestor = req->requestor;
	reply.xselection.selection = req->selection;
	reply.xselection.target = req->target;
	reply.xselection.time = req->time;
	reply.xselection.property = None;
	if (req->target == aURIList) {
		Atom prop = req->property != None ? req->property : req->target;
		XChangeProperty(dpy, req->requestor, prop, aURIList, 8, PropModeReplace,
				(const unsigned char *)list, (int)strlen(list));
		reply.xselection.property = prop;
	}
	XSendEvent(dpy, req->requestor, False, NoEventMask, &reply);
	XFlush(dpy);
}

/* next_event waits up to ms for an X event; 0 on timeout. */
static int next_event(XEvent *ev, int ms)
{
	struct pollfd pfd = {.fd = ConnectionNumber(dpy), .events = POLLIN};
	while (!XPending(dpy)) {
		if (poll(&pfd, 1, ms) <= 0)
			return 0;
	}
	XNextEvent(dpy, ev);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: xdnd TARGET_WINDOW_ID ROOT_X ROOT_Y PATH...\n");
		return 2;
	}
	dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "xdnd: cannot open display\n");
		return 1;
	}
	target = (Window)strtoul(argv[1], NULL, 0);
	int x = atoi(argv[2]), y = atoi(argv[3]);
	char *list = uri_list(argc - 4, argv + 4);

	aAware = XInternAtom(dpy, "XdndAware", False);
	aEnter = XInternAtom(dpy, "XdndEnter", False);
	aPosition = XInternAtom(dpy, "XdndPosition", False);
	aStatus = XInternAtom(dpy, "XdndStatus", False);
	aDrop = XInternAtom(dpy, "XdndDrop", False);
	aFinished = XInternAtom(dpy, "XdndFinished", False);
	aSelection = XInternAtom(dpy, "XdndSelection", False);
	aActionCopy = XInternAtom(dpy, "XdndActionCopy", False);
	aURIList = XInternAtom(dpy, "text/uri-list", False);

	Atom type;
	int format;
	unsigned long n, after;
	unsigned char *data = NULL;
	if (XGetWindowProperty(dpy, target, aAware, 0, 1, False, AnyPropertyType, &type,
			       &format, &n, &after, &data) != Success || n == 0) {
		fprintf(stderr, "xdnd: window 0x%lx is not XdndAware\n", target);
		return 1;
	}
	int version = data[0] < 5 ? data[0] : 5;
	XFree(data);

	src = XCreateSimpleWindow(dpy, DefaultRootWindow(dpy), 0, 0, 1, 1, 0, 0, 0);
	XSetSelectionOwner(dpy, aSelection, src, CurrentTime);
	if (XGetSelectionOwner(dpy, aSelection) != src) {
		fprintf(stderr, "xdnd: cannot own XdndSelection\n");
		return 1;
	}

	send_client(aEnter, (long)src, (long)version << 24, (long)aURIList, None, None);
	send_client(aPosition, (long)src, 0, ((long)x << 16) | (y & 0xffff), CurrentTime, (long)aActionCopy);

	enum { WAIT_STATUS, WAIT_FINISHED } phase = WAIT_STATUS;
	XEvent ev;
	while (next_event(&ev, 10000)) {
		if (ev.type == SelectionRequest) {
			answer_selection(&ev.xselectionrequest, list);
		} else if (ev.type == ClientMessage && ev.xclient.message_type == aStatus && phase == WAIT_STATUS) {
			if (!(ev.xclient.data.l[1] & 1)) {
				fprintf(stderr, "xdnd: target refused the drop\n");
				send_client(XInternAtom(dpy, "XdndLeave", False), (long)src, 0, 0, 0, 0);
				return 1;
			}
			send_client(aDrop, (long)src, 0, CurrentTime, 0, 0);
			phase = WAIT_FINISHED;
		} else if (ev.type == ClientMessage && ev.xclient.message_type == aFinished) {
			/* The spec says bit 0 of l[1]; GLFW sends the number of bytes
			 * it read, so any non-zero value means accepted. */
			int ok = version < 5 || ev.xclient.data.l[1] != 0;
			/* GLFW may still ask for the data after Finished in rare
			 * orderings: serve requests for a moment before leaving. */
			while (next_event(&ev, 300))
				if (ev.type == SelectionRequest)
					answer_selection(&ev.xselectionrequest, list);
			if (!ok) {
				fprintf(stderr, "xdnd: target did not accept the data\n");
				return 1;
			}
			printf("xdnd: dropped %d item(s)\n", argc - 4);
			return 0;
		}
	}
	fprintf(stderr, "xdnd: timeout waiting for %s\n", phase == WAIT_STATUS ? "XdndStatus" : "XdndFinished");
	return 1;
}
