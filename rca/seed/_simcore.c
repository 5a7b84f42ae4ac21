/* The simulation's main loop in C: the same draws, in the same order, as _sim.py.
 *
 * _sim.py is the reference and the fallback: this file is a line-by-line port of
 * Simulation.run()'s loop and the handlers it calls (arrivals, attempts, the HikariCP
 * pool, the mesh's retries, probes, scanners, ticks). The Python side does the set-up
 * that runs once (facts, first probes, scanner bursts, the rate scale) with draws from
 * this core's generator, then iterates the core. tests/unit/test_simcore.py compares
 * both engines emission by emission; any difference is a bug here.
 *
 * The generator is MT19937 continued from random.Random.getstate(), and random() is
 * CPython's genrand_res53, so every draw equals the Python engine's. Floating-point
 * expressions keep Python's operand order, and libm's log/exp are the functions
 * CPython's math module calls.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <structmember.h> /* PyMemberDef, T_OBJECT_EX: the dataclasses' slots */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SIMCORE_SOURCE_SHA256 /* setup.py passes the SHA-256 of this file */
#define SIMCORE_SOURCE_SHA256 "unknown"
#endif

#define MT_N 624
#define MT_M 397
#define NONE_US INT64_MAX /* "None" for optional instants (never reached) */
#define MAX_ATTEMPTS 8
/* Emissions per refill of the iterator's buffer. Small enough that a batch's objects
 * (~3 allocations per request) are freed before the cyclic collector's 700-allocation
 * threshold: at 512, it ran ~360 times per 100k requests, 10% of the simulation. */
#define BATCH 128

enum { K_FACT = 0, K_PROBE = 1, K_RETRY = 2, K_SCANNER = 3 };

enum {
    O_OK,
    O_NOT_FOUND,
    O_CONFLICT,
    O_UNAUTHORIZED,
    O_POOL_TIMEOUT,
    O_NPE,
    O_KILLED,
    O_REFUSED,
    O_COUNT
};
static const char *OUTCOME_NAMES[O_COUNT] = {
    "ok", "not_found", "conflict", "unauthorized", "pool_timeout", "npe", "killed", "refused"};

/* Exemplar kinds, in a bit mask of those already used. */
enum { X_NONE = -1, X_POOL_TIMEOUT, X_NPE, X_KILLED, X_REFUSED, X_SLOW_QUERY, X_UH, X_UT, X_COUNT };
static const char *EXEMPLAR_NAMES[X_COUNT] = {
    "pool_timeout", "npe", "killed", "refused", "slow_query", "uh", "ut"};

/* Mesh endings: flags, details, body length index into the text table. */
enum { M_VIA, M_URX, M_UH, M_UT, M_UF, M_UF_RETRIED, M_UC, M_UC_RETRIED, M_COUNT };

static PyObject *S_OUTCOME[O_COUNT];
/* The request's params keys, in the order _sim.py writes them (and templates name them). */
enum { P_CUSTOMER, P_ORDER, P_PAGE, P_CATEGORY, P_COUNT };
static const char *PARAM_NAMES[P_COUNT] = {"customer", "order", "page", "category"};
static PyObject *S_PARAM[P_COUNT];
static PyObject *S_EXEMPLAR[X_COUNT];

/* ------------------------------------------------------------------ generator */
typedef struct {
    uint32_t mt[MT_N];
    int index;
} MT;

static uint32_t mt_next(MT *g)
{
    static const uint32_t mag01[2] = {0x0U, 0x9908b0dfU};
    uint32_t y;
    if (g->index >= MT_N) {
        int kk;
        for (kk = 0; kk < MT_N - MT_M; kk++) {
            y = (g->mt[kk] & 0x80000000U) | (g->mt[kk + 1] & 0x7fffffffU);
            g->mt[kk] = g->mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 0x1U];
        }
        for (; kk < MT_N - 1; kk++) {
            y = (g->mt[kk] & 0x80000000U) | (g->mt[kk + 1] & 0x7fffffffU);
            g->mt[kk] = g->mt[kk + (MT_M - MT_N)] ^ (y >> 1) ^ mag01[y & 0x1U];
        }
        y = (g->mt[MT_N - 1] & 0x80000000U) | (g->mt[0] & 0x7fffffffU);
        g->mt[MT_N - 1] = g->mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 0x1U];
        g->index = 0;
    }
    y = g->mt[g->index++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= (y >> 18);
    return y;
}

static double mt_random(MT *g)
{
    uint32_t a = mt_next(g) >> 5, b = mt_next(g) >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------ request ids */
/* Keyed BLAKE2b (RFC 7693) of "req:<n>", 32-byte digest, as _rng.IdSource.hex("req", n,
 * 32): the state after the key block is computed once, so an id costs one compression. */
static const uint64_t B2B_IV[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
                                   0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
                                   0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                                   0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
static const uint8_t B2B_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

#define ROTR64(x, y) (((x) >> (y)) ^ ((x) << (64 - (y))))
#define B2B_G(a, b, c, d, x, y)            \
    do {                                   \
        v[a] = v[a] + v[b] + (x);          \
        v[d] = ROTR64(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];                \
        v[b] = ROTR64(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);          \
        v[d] = ROTR64(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];                \
        v[b] = ROTR64(v[b] ^ v[c], 63);    \
    } while (0)

static void b2b_compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last)
{
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = B2B_IV[i];
    }
    v[12] ^= t; /* messages here are far below 2^64 bytes: the high counter word is 0 */
    if (last) v[14] = ~v[14];
    for (int i = 0; i < 16; i++) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--) w = (w << 8) | block[8 * i + k];
        m[i] = w;
    }
    for (int r = 0; r < 12; r++) {
        const uint8_t *sg = B2B_SIGMA[r];
        B2B_G(0, 4, 8, 12, m[sg[0]], m[sg[1]]);
        B2B_G(1, 5, 9, 13, m[sg[2]], m[sg[3]]);
        B2B_G(2, 6, 10, 14, m[sg[4]], m[sg[5]]);
        B2B_G(3, 7, 11, 15, m[sg[6]], m[sg[7]]);
        B2B_G(0, 5, 10, 15, m[sg[8]], m[sg[9]]);
        B2B_G(1, 6, 11, 12, m[sg[10]], m[sg[11]]);
        B2B_G(2, 7, 8, 13, m[sg[12]], m[sg[13]]);
        B2B_G(3, 4, 9, 14, m[sg[14]], m[sg[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

#define ID_BYTES 32

/* The state once the key block is absorbed (keylen <= 64, an outlen-byte digest). */
static void b2b_keyed(uint64_t h[8], const uint8_t *key, size_t keylen, unsigned outlen)
{
    uint8_t block[128] = {0};
    for (int i = 0; i < 8; i++) h[i] = B2B_IV[i];
    h[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ outlen;
    memcpy(block, key, keylen);
    b2b_compress(h, block, 128, 0);
}

/* The decimal digits of v (f"{v}"), not NUL-terminated: snprintf's parsing was a tenth
 * of the simulation's time. dst has room for 20 characters. */
static int fmt_i64(char *dst, int64_t v)
{
    char tmp[24];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int len = 0;
    if (v < 0) dst[len++] = '-';
    while (n) dst[len++] = tmp[--n];
    return len;
}

/* IdSource.hex(kind, n, outlen): the hex digest of "<kind>:<n>" under the keyed state. */
static void b2b_id_hex(const uint64_t keyed[8], const char *kind, int64_t n, unsigned outlen,
                       char *hex)
{
    static const char digits[] = "0123456789abcdef";
    uint8_t block[128] = {0};
    size_t klen = strlen(kind); /* kind is a short literal */
    memcpy(block, kind, klen);
    block[klen] = ':';
    int len = (int)klen + 1 + fmt_i64((char *)block + klen + 1, n);
    uint64_t h[8];
    memcpy(h, keyed, sizeof h);
    b2b_compress(h, block, 128 + (uint64_t)len, 1);
    for (unsigned i = 0; i < outlen; i++) {
        uint8_t byte = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
        hex[2 * i] = digits[byte >> 4];
        hex[2 * i + 1] = digits[byte & 15];
    }
}

/* 64 hex characters: the digest of "req:<n>" under the keyed state. */
static void request_ids(const uint64_t keyed[8], int64_t n, char hex[2 * ID_BYTES])
{
    b2b_id_hex(keyed, "req", n, ID_BYTES, hex);
}

/* ------------------------------------------------------------------ data */
typedef struct {
    PyObject *obj;
    int64_t start_us, ready_us, end_us; /* end NONE_US: still running */
    int64_t restart_count;
    int pool; /* index into Core.pools */
} Cont;

typedef struct {
    PyObject *obj;
    int64_t deleted_us; /* NONE_US: not deleted */
    int faulty;         /* version in plan.faulty_versions */
    int ncont;
    Cont *cont;
    PyObject *upstream_host; /* "<ip>:8080" */
    PyObject *out_refused;   /* probe outputs */
    PyObject *out_deadline;
    int probe_fail;
    int64_t unready_since; /* NONE_US: ready (None in Python) */
} PodC;

typedef struct {
    int64_t *free; /* min-heap of instants each connection frees up, size pool_size */
    int64_t *waiters;
    Py_ssize_t nwait, capwait;
} Pool;

#define MAX_PARTS 8
typedef struct {
    PyObject *obj, *method, *template_, *qkey;
    /* The template split into literal text and the param after it (-1: none), when
     * it is plain (ASCII literals, bare {param} fields); nparts 0: use format_map. */
    char *literal[MAX_PARTS];
    int field[MAX_PARTS], nparts;
    double cpu_ms, q_median_ms, q_sigma;
    int64_t ok_status, body_low, body_high, request_bytes;
    int is_get_order, is_create_order, is_get_customer;
} EndpointC;

typedef struct {
    int pod;
    Cont *c; /* NULL: refused */
    int64_t start_us, end_us, status;
    int outcome;
    int64_t db_start_us, db_us, pool_wait_us, pool_waiting, body_bytes;
    int abandoned;
} AttemptC;

typedef struct {
    int64_t n, t_us;
    PyObject *request_id, *trace_id, *client_ip, *user_agent, *referer, *path, *params;
    int ep;
    int64_t customer;
    int64_t mesh_start_us;
    int natt;
    AttemptC att[MAX_ATTEMPTS];
    int exemplar;
} Flight;

typedef struct {
    int64_t t, seq;
    int kind;
    PyObject *obj; /* fact, scanner payload (owned) */
    Flight *flight;
    int tries; /* retry count, or pod index for a probe */
} Event;

typedef struct {
    PyObject_HEAD MT g;
    /* window and constants */
    int64_t start, end, res, us, chunk_us, flush_us, route_timeout_us, hikari_timeout_us,
        eds_lag_us, probe_period_us;
    int probe_threshold, retry_attempts, pool_size;
    double noise, jitter_median, jitter_sigma, fault_probability;
    /* tables */
    double *zt;
    Py_ssize_t nz;
    PyObject *nets, *agents, *referers, *categories; /* tuples */
    double *static_cum;
    PyObject **static_path;
    int64_t *static_size;
    int *static_root;
    Py_ssize_t nstatic;
    double *ep_cum;
    EndpointC *eps;
    Py_ssize_t neps;
    PodC *pods;
    int npods;
    Pool *pools;
    int npools;
    int64_t *lifecycle;
    Py_ssize_t nlife;
    /* callables and classes */
    PyObject *rate_at, *cpu_time, *db_time, *Request, *Attempt, *Tick, *ProbeResult;
    PyObject *db_wait, *no_wait; /* the plan's lock-wait hook and its neutral default */
    PyObject *unchanged; /* the plan's default hook, 1.0 whatever it is asked: not called */
    uint64_t ids_keyed[8]; /* BLAKE2b state after the ids key */
    Py_ssize_t request_slots[28], attempt_slots[12]; /* field offsets, in field order */
    /* text */
    PyObject *k_static, *k_api, *k_scanner, *m_get, *root, *dash, *search_ref,
        *became_ready, *became_unready, *empty, *transport_refused;
    PyObject *mflags[M_COUNT], *mdetails[M_COUNT];
    int64_t mbody[M_COUNT];
    /* state */
    Event *heap;
    Py_ssize_t nheap, capheap;
    int64_t seq, nreq, next_tick;
    unsigned exemplars;
    int *route;
    int nroute;
    int64_t route_from, route_until;
    int *fresh;
    /* loop state */
    int ready; /* 0 new, 1 once Core_init succeeded, -1 init failed or the GC cleared it */
    int phase, need_step;
    int64_t step_start, step_end, t;
    double mean_gap_us;
    PyObject *out; /* buffered emissions */
    Py_ssize_t pos;
} Core;

static PyTypeObject CoreType;

/* ------------------------------------------------------------------ helpers */
static inline int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static inline int64_t below(Core *s, int64_t n) { return (int64_t)(mt_random(&s->g) * (double)n); }

static inline double exponential(Core *s, double mean)
{
    return -mean * log(1.0 - mt_random(&s->g));
}

static inline double lognormal(Core *s, double median, double sigma)
{
    double x = mt_random(&s->g) * (double)(s->nz - 1);
    Py_ssize_t i = (Py_ssize_t)x;
    double z = s->zt[i] + (x - (double)i) * (s->zt[i + 1] - s->zt[i]);
    return median * exp(sigma * z);
}

static Py_ssize_t bisect_right(const double *a, Py_ssize_t n, double x)
{
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (x < a[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static Py_ssize_t bisect_right_i64(const int64_t *a, Py_ssize_t n, int64_t x)
{
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (x < a[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static inline PyObject *pick(Core *s, PyObject *tuple)
{
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    return PyTuple_GET_ITEM(tuple, (Py_ssize_t)(mt_random(&s->g) * (double)n));
}

/* int64 min-heaps (heapq semantics: only the minimum matters for plain numbers) */
static void i64_siftdown(int64_t *h, Py_ssize_t pos)
{
    int64_t item = h[pos];
    while (pos > 0) {
        Py_ssize_t parent = (pos - 1) >> 1;
        if (item < h[parent]) {
            h[pos] = h[parent];
            pos = parent;
        } else
            break;
    }
    h[pos] = item;
}

static void i64_siftup(int64_t *h, Py_ssize_t n, Py_ssize_t pos)
{
    int64_t item = h[pos];
    for (;;) {
        Py_ssize_t child = 2 * pos + 1;
        if (child >= n) break;
        if (child + 1 < n && h[child + 1] < h[child]) child++;
        if (h[child] < item) {
            h[pos] = h[child];
            pos = child;
        } else
            break;
    }
    h[pos] = item;
}

static int wait_push(Pool *p, int64_t v)
{
    if (p->nwait == p->capwait) {
        Py_ssize_t cap = p->capwait ? p->capwait * 2 : 16;
        int64_t *w = PyMem_Realloc(p->waiters, cap * sizeof(int64_t));
        if (!w) {
            PyErr_NoMemory();
            return -1;
        }
        p->waiters = w;
        p->capwait = cap;
    }
    p->waiters[p->nwait++] = v;
    i64_siftdown(p->waiters, p->nwait - 1);
    return 0;
}

static void wait_pop(Pool *p)
{
    p->waiters[0] = p->waiters[--p->nwait];
    if (p->nwait) i64_siftup(p->waiters, p->nwait, 0);
}

/* The event heap, ordered by (t, seq) like the Python tuples (seq is unique). */
static inline int ev_less(const Event *a, const Event *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int push(Core *s, int64_t t, int kind, PyObject *obj, Flight *f, int tries)
{
    if (s->nheap == s->capheap) {
        Py_ssize_t cap = s->capheap ? s->capheap * 2 : 256;
        Event *h = PyMem_Realloc(s->heap, cap * sizeof(Event));
        if (!h) {
            PyErr_NoMemory();
            return -1;
        }
        s->heap = h;
        s->capheap = cap;
    }
    Event e = {t, ++s->seq, kind, obj, f, tries};
    Py_XINCREF(obj);
    Py_ssize_t pos = s->nheap++;
    while (pos > 0) {
        Py_ssize_t parent = (pos - 1) >> 1;
        if (ev_less(&e, &s->heap[parent])) {
            s->heap[pos] = s->heap[parent];
            pos = parent;
        } else
            break;
    }
    s->heap[pos] = e;
    return 0;
}

static Event pop_event(Core *s)
{
    Event top = s->heap[0];
    Event last = s->heap[--s->nheap];
    Py_ssize_t n = s->nheap, pos = 0;
    if (n) {
        for (;;) {
            Py_ssize_t child = 2 * pos + 1;
            if (child >= n) break;
            if (child + 1 < n && ev_less(&s->heap[child + 1], &s->heap[child])) child++;
            if (ev_less(&s->heap[child], &last)) {
                s->heap[pos] = s->heap[child];
                pos = child;
            } else
                break;
        }
        s->heap[pos] = last;
    }
    return top;
}

/* A str of n plain-ASCII bytes (the cheap way: no format parsing, no decoding). */
static PyObject *ascii_str(const char *text, Py_ssize_t n)
{
    PyObject *o = PyUnicode_New(n, 127);
    if (o) memcpy(PyUnicode_DATA(o), text, (size_t)n);
    return o;
}

static PyObject *int_str(int64_t v)
{
    char tmp[24];
    return ascii_str(tmp, fmt_i64(tmp, v));
}

static inline int emit(Core *s, PyObject *o)
{
    if (!o) return -1;
    int rc = PyList_Append(s->out, o);
    Py_DECREF(o);
    return rc;
}

static PyObject *i64_or_none(int64_t v)
{
    if (v == NONE_US) Py_RETURN_NONE;
    return PyLong_FromLongLong(v);
}

/* ------------------------------------------------------------------ pods */
static Cont *alive_at(PodC *p, int64_t t)
{
    for (int i = 0; i < p->ncont; i++) {
        Cont *c = &p->cont[i];
        if (c->start_us <= t && t < c->end_us) return c;
    }
    return NULL;
}

static int ready_at(PodC *p, int64_t t)
{
    Cont *c = alive_at(p, t);
    if (c == NULL || t < c->ready_us) return 0;
    return t < p->deleted_us;
}

static void routable(Core *s, int64_t t)
{
    int64_t seen = t - s->eds_lag_us;
    if (s->route_from <= seen && seen < s->route_until) return;
    int64_t until = (s->nlife && s->lifecycle[s->nlife - 1] > seen)
                        ? s->lifecycle[bisect_right_i64(s->lifecycle, s->nlife, seen)]
                        : ((int64_t)1 << 62);
    int n = 0;
    for (int i = 0; i < s->npods; i++) {
        PodC *p = &s->pods[i];
        int64_t since = p->unready_since;
        if (since != NONE_US && since > seen && since < until) until = since;
        if (!ready_at(p, seen)) continue;
        if (since != NONE_US && since <= seen) continue;
        s->route[n++] = i;
    }
    s->nroute = n;
    s->route_from = seen;
    s->route_until = until;
}

/* ------------------------------------------------------------------ requests */
/* A slotted dataclass instance with every field set, without running its __init__
 * (Core_init checked that the class is a plain slotted dataclass). Steals nothing. */
static PyObject *new_slotted(PyObject *cls, const Py_ssize_t *offsets, PyObject *const *args,
                             int n)
{
    PyTypeObject *tp = (PyTypeObject *)cls;
    PyObject *o = tp->tp_alloc(tp, 0);
    if (!o) return NULL;
    for (int i = 0; i < n; i++) *(PyObject **)((char *)o + offsets[i]) = Py_NewRef(args[i]);
    /* Requests and attempts hold nothing that leads back to them (strings, numbers, and
     * pods, containers and endpoints that live for the whole pass), so they can never be
     * in a cycle: reference counting frees them, and the cyclic collector, which the
     * allocation of ~3 objects per request would otherwise run every few hundred requests,
     * need not walk them. */
    if (PyObject_IS_GC(o)) PyObject_GC_UnTrack(o);
    return o;
}

static PyObject *new_attempt_list(Core *s, Flight *f)
{
    PyObject *list = PyList_New(f->natt);
    if (!list) return NULL;
    PyObject_GC_UnTrack(list); /* holds only attempts: no cycle (see new_slotted) */
    for (int i = 0; i < f->natt; i++) {
        AttemptC *a = &f->att[i];
        PyObject *args[12];
        args[0] = s->pods[a->pod].obj;
        args[1] = a->c ? a->c->obj : Py_None;
        args[2] = PyLong_FromLongLong(a->start_us);
        args[3] = PyLong_FromLongLong(a->end_us);
        args[4] = PyLong_FromLongLong(a->status);
        args[5] = S_OUTCOME[a->outcome];
        args[6] = PyLong_FromLongLong(a->db_start_us);
        args[7] = PyLong_FromLongLong(a->db_us);
        args[8] = PyLong_FromLongLong(a->pool_wait_us);
        args[9] = PyLong_FromLongLong(a->pool_waiting);
        args[10] = PyLong_FromLongLong(a->body_bytes);
        args[11] = a->abandoned ? Py_True : Py_False;
        PyObject *o = NULL;
        if (args[2] && args[3] && args[4] && args[6] && args[7] && args[8] && args[9] && args[10])
            o = new_slotted(s->Attempt, s->attempt_slots, args, 12);
        for (int k = 2; k <= 10; k++)
            if (k != 5) Py_XDECREF(args[k]);
        if (!o) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, o);
    }
    return list;
}

/* Request(...) with all 28 fields, in the dataclass's order (checked by Core_init). */
typedef struct {
    int64_t n, t_us;
    PyObject *request_id, *trace_id, *kind, *client_ip, *user_agent, *referer, *method, *path;
    PyObject *endpoint, *params; /* NULL: None / {} */
    int64_t status, body_bytes, end_us, upstream_us, request_bytes; /* upstream NONE_US: None */
    int64_t mesh_start_us, mesh_end_us, mesh_code;
    PyObject *mesh_flags, *mesh_details;
    int64_t mesh_bytes_sent, upstream_service_ms; /* NONE_US: None */
    PyObject *upstream_host, *transport_failure;  /* NULL: None */
    PyObject *attempts;                           /* NULL: [] */
    int exemplar;
} ReqFields;

static PyObject *make_request(Core *s, ReqFields *r)
{
    PyObject *args[28];
    PyObject *owned[14];
    int no = 0, ok = 1;
#define OWN(i, expr)                     \
    do {                                 \
        args[i] = (expr);                \
        owned[no++] = args[i];           \
        if (!args[i]) ok = 0;            \
    } while (0)
    OWN(0, PyLong_FromLongLong(r->n));
    OWN(1, PyLong_FromLongLong(r->t_us));
    args[2] = r->request_id;
    args[3] = r->trace_id;
    args[4] = r->kind;
    args[5] = r->client_ip;
    args[6] = r->user_agent;
    args[7] = r->referer;
    args[8] = r->method;
    args[9] = r->path;
    args[10] = r->endpoint ? r->endpoint : Py_None;
    if (r->params)
        args[11] = r->params;
    else
        OWN(11, PyDict_New());
    OWN(12, PyLong_FromLongLong(r->status));
    OWN(13, PyLong_FromLongLong(r->body_bytes));
    OWN(14, PyLong_FromLongLong(r->end_us));
    OWN(15, i64_or_none(r->upstream_us));
    OWN(16, PyLong_FromLongLong(r->request_bytes));
    OWN(17, PyLong_FromLongLong(r->mesh_start_us));
    OWN(18, PyLong_FromLongLong(r->mesh_end_us));
    OWN(19, PyLong_FromLongLong(r->mesh_code));
    args[20] = r->mesh_flags;
    args[21] = r->mesh_details;
    OWN(22, PyLong_FromLongLong(r->mesh_bytes_sent));
    OWN(23, i64_or_none(r->upstream_service_ms));
    args[24] = r->upstream_host ? r->upstream_host : Py_None;
    args[25] = r->transport_failure ? r->transport_failure : Py_None;
    if (r->attempts)
        args[26] = r->attempts;
    else
        OWN(26, PyList_New(0));
    args[27] = r->exemplar == X_NONE ? Py_None : S_EXEMPLAR[r->exemplar];
#undef OWN
    PyObject *o = ok ? new_slotted(s->Request, s->request_slots, args, 28) : NULL;
    for (int i = 0; i < no; i++) Py_XDECREF(owned[i]);
    return o;
}

/* _new_request's draws: request/trace id (no draw), client ip (2), agent, referer. */
static int new_request(Core *s, int64_t t, ReqFields *r)
{
    memset(r, 0, sizeof(*r));
    r->n = s->nreq++;
    r->t_us = t;
    r->exemplar = X_NONE;
    r->upstream_us = NONE_US;
    r->upstream_service_ms = NONE_US;
    r->mesh_flags = s->dash;
    r->mesh_details = s->empty;
    char hex[2 * ID_BYTES];
    request_ids(s->ids_keyed, r->n, hex);
    r->request_id = ascii_str(hex, ID_BYTES);
    r->trace_id = ascii_str(hex + ID_BYTES, ID_BYTES);
    if (!r->request_id || !r->trace_id) return -1;
    PyObject *net = pick(s, s->nets); /* ASCII: checked in Core_init */
    long octet = 2 + (long)(mt_random(&s->g) * 253.0);
    char ip[64 + 24];
    Py_ssize_t netlen = PyUnicode_GET_LENGTH(net); /* <= 32: checked in Core_init */
    memcpy(ip, PyUnicode_DATA(net), (size_t)netlen);
    r->client_ip = ascii_str(ip, netlen + fmt_i64(ip + netlen, octet));
    if (!r->client_ip) return -1;
    r->user_agent = pick(s, s->agents);
    r->referer = pick(s, s->referers);
    r->method = s->m_get;
    r->path = s->root;
    Py_INCREF(r->path);
    return 0;
}

static void release_request(ReqFields *r)
{
    Py_XDECREF(r->request_id);
    Py_XDECREF(r->trace_id);
    Py_XDECREF(r->client_ip);
    Py_XDECREF(r->path);
}

static void free_flight(Flight *f)
{
    Py_XDECREF(f->request_id);
    Py_XDECREF(f->trace_id);
    Py_XDECREF(f->client_ip);
    Py_XDECREF(f->path);
    Py_XDECREF(f->params);
    PyMem_Free(f);
}

static void set_exemplar(Core *s, Flight *f, int kind)
{
    if (!(s->exemplars & (1u << kind)) && f->exemplar == X_NONE) {
        s->exemplars |= 1u << kind;
        f->exemplar = kind;
    }
}

/* The finished request: nginx's fields on top of the mesh's. Frees the flight. */
static PyObject *finish(Core *s, Flight *f, int64_t mesh_end, int64_t code, int mesh,
                        int64_t bytes_sent, int64_t service_ms, int host_pod,
                        PyObject *transport)
{
    ReqFields r;
    memset(&r, 0, sizeof(r));
    r.n = f->n;
    r.t_us = f->t_us;
    r.request_id = f->request_id;
    r.trace_id = f->trace_id;
    r.kind = s->k_api;
    r.client_ip = f->client_ip;
    r.user_agent = f->user_agent;
    r.referer = f->referer;
    EndpointC *ep = &s->eps[f->ep];
    r.method = ep->method;
    r.path = f->path;
    r.endpoint = ep->obj;
    r.params = f->params;
    r.request_bytes = ep->request_bytes;
    r.mesh_start_us = f->mesh_start_us;
    r.mesh_end_us = mesh_end;
    r.mesh_code = code;
    r.mesh_flags = s->mflags[mesh];
    r.mesh_details = s->mdetails[mesh];
    r.mesh_bytes_sent = bytes_sent;
    r.upstream_service_ms = service_ms;
    r.upstream_host = host_pod >= 0 ? s->pods[host_pod].upstream_host : NULL;
    r.transport_failure = transport;
    r.exemplar = f->exemplar;
    /* _finish_nginx */
    r.upstream_us = mesh_end + 150 + (int64_t)(mt_random(&s->g) * 200.0) - (f->t_us + 80);
    r.end_us = mesh_end + 250 + (int64_t)(mt_random(&s->g) * 500.0);
    r.status = code;
    r.body_bytes = bytes_sent;
    r.attempts = new_attempt_list(s, f);
    PyObject *o = r.attempts ? make_request(s, &r) : NULL;
    Py_XDECREF(r.attempts);
    free_flight(f);
    return o;
}

static PyObject *finish_upstream(Core *s, Flight *f, AttemptC *a)
{
    int64_t mesh_end = a->end_us + 250 + (int64_t)(mt_random(&s->g) * 300.0);
    int urx = f->natt > s->retry_attempts && a->status >= 500;
    int64_t ms = floordiv(a->end_us - a->start_us, 1000);
    if (ms < 0) ms = 0;
    return finish(s, f, mesh_end, a->status, urx ? M_URX : M_VIA, a->body_bytes, ms, a->pod,
                  NULL);
}

static PyObject *finish_local(Core *s, Flight *f, int64_t t, int64_t code, int mesh,
                              PyObject *transport)
{
    int host = f->natt ? f->att[f->natt - 1].pod : -1;
    if (mesh == M_UH) set_exemplar(s, f, X_UH);
    return finish(s, f, t, code, mesh, s->mbody[mesh], NONE_US, host, transport);
}

static PyObject *finish_timeout(Core *s, Flight *f, int64_t deadline)
{
    set_exemplar(s, f, X_UT);
    return finish_local(s, f, deadline + below(s, 1500), 504, M_UT, NULL);
}

static PyObject *finish_failed(Core *s, Flight *f)
{
    AttemptC *a = &f->att[f->natt - 1];
    int retried = f->natt > 1;
    if (a->status >= 500) return finish_upstream(s, f, a);
    int64_t end = a->end_us + 200;
    if (a->outcome == O_REFUSED)
        return finish_local(s, f, end, 503, retried ? M_UF_RETRIED : M_UF, s->transport_refused);
    return finish_local(s, f, end, 503, retried ? M_UC_RETRIED : M_UC, NULL);
}

static int64_t error_body_bytes(Core *s, Flight *f, int64_t status)
{
    if (status == 401 || status == 0) return 0;
    const char *reason = status == 404   ? "Not Found"
                         : status == 409 ? "Conflict"
                         : status == 500 ? "Internal Server Error"
                                         : NULL;
    if (!reason) {
        PyErr_Format(PyExc_KeyError, "%lld", (long long)status);
        return -1;
    }
    /* path without its query string */
    Py_ssize_t plen = PyUnicode_GET_LENGTH(f->path);
    Py_ssize_t q = PyUnicode_FindChar(f->path, '?', 0, plen, 1);
    if (q == -2) return -1;
    if (q >= 0) plen = q;
    char num[32];
    int nlen = fmt_i64(num, status);
    /* {"timestamp":"2026-01-01T00:00:00.000+00:00","status":N,"error":"R","path":"P"} */
    return (int64_t)(strlen("{\"timestamp\":\"2026-01-01T00:00:00.000+00:00\",") +
                     strlen("\"status\":") + nlen + strlen(",\"error\":\"") + strlen(reason) +
                     strlen("\",\"path\":\"") + plen + strlen("\"}"));
}

/* HikariCP getConnection(): wait (or -1 on timeout), and how many others wait. */
static int64_t acquire(Core *s, Pool *p, int64_t t, int64_t hold, int64_t *waiting)
{
    while (p->nwait && p->waiters[0] <= t) wait_pop(p);
    *waiting = p->nwait;
    int64_t free_at = p->free[0];
    if (free_at <= t) {
        p->free[0] = t + hold;
        i64_siftup(p->free, s->pool_size, 0);
        return 0;
    }
    int64_t wait = free_at - t;
    if (wait > s->hikari_timeout_us) {
        if (wait_push(p, t + s->hikari_timeout_us) < 0) return -2;
        return -1;
    }
    p->free[0] = free_at + hold;
    i64_siftup(p->free, s->pool_size, 0);
    if (wait_push(p, free_at) < 0) return -2;
    return wait;
}

static double call_float(PyObject *fn, PyObject *const *args, size_t n)
{
    PyObject *v = PyObject_Vectorcall(fn, args, n, NULL);
    if (!v) return -1.0;
    double d = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return d;
}

static int run_attempt(Core *s, Flight *f, int pi, int64_t t, AttemptC *a)
{
    PodC *pod = &s->pods[pi];
    EndpointC *ep = &s->eps[f->ep];
    Cont *c = alive_at(pod, t);
    memset(a, 0, sizeof(*a));
    a->pod = pi;
    a->start_us = t;
    if (c == NULL) { /* listed but gone: refused (no exemplar, as in Python) */
        a->end_us = t + 200 + below(s, 900);
        a->status = 0;
        a->outcome = O_REFUSED;
        return 0;
    }
    a->c = c;
    double cpu = 1.0;
    if (s->cpu_time != s->unchanged) {
        PyObject *tt = PyLong_FromLongLong(t);
        if (!tt) return -1;
        PyObject *args[2] = {tt, pod->obj};
        cpu = call_float(s->cpu_time, args, 2);
        Py_DECREF(tt);
        if (cpu == -1.0 && PyErr_Occurred()) return -1;
    }
    int64_t pre = (int64_t)(lognormal(s, 1100.0, 0.4) * cpu);
    int64_t acq = t + pre;
    double dbm = lognormal(s, s->eps[f->ep].q_median_ms * 1000.0, ep->q_sigma);
    double dbt = 1.0;
    if (s->db_time != s->unchanged) {
        PyObject *at = PyLong_FromLongLong(acq);
        if (!at) return -1;
        PyObject *dargs[2] = {at, ep->qkey};
        dbt = call_float(s->db_time, dargs, 2);
        Py_DECREF(at);
        if (dbt == -1.0 && PyErr_Occurred()) return -1;
    }
    int64_t db_us = (int64_t)(dbm * dbt);
    int64_t post = (int64_t)(lognormal(s, ep->cpu_ms * 1000.0, 0.5) * cpu);
    Pool *pool = &s->pools[c->pool];
    if (s->db_wait != s->no_wait) {
        /* A statement blocked on a lock holds its connection while it waits (as _sim.py) */
        int64_t free_at = pool->free[0];
        int64_t got = free_at <= acq ? acq : free_at;
        if (got - acq <= s->hikari_timeout_us) {
            PyObject *gt = PyLong_FromLongLong(got);
            if (!gt) return -1;
            PyObject *wargs[2] = {gt, ep->qkey};
            PyObject *v = PyObject_Vectorcall(s->db_wait, wargs, 2, NULL);
            Py_DECREF(gt);
            if (!v) return -1;
            int64_t extra = PyLong_AsLongLong(v);
            Py_DECREF(v);
            if (extra == -1 && PyErr_Occurred()) return -1;
            db_us += extra;
        }
    }
    int64_t waiting = 0;
    int64_t wait = acquire(s, pool, acq, db_us + post, &waiting);
    if (wait == -2) return -1;
    a->status = 200;
    a->outcome = O_OK;
    a->pool_waiting = waiting;
    if (wait < 0) {
        a->end_us = acq + s->hikari_timeout_us + 600 + below(s, 3400);
        a->status = 500;
        a->outcome = O_POOL_TIMEOUT;
        a->pool_wait_us = a->end_us - acq;
    } else {
        a->pool_wait_us = wait;
        a->db_start_us = acq + wait;
        a->db_us = db_us;
        a->end_us = a->db_start_us + db_us + post;
        a->status = ep->ok_status;
        if (pod->faulty && (ep->is_create_order || ep->is_get_order) &&
            (double)(f->customer % 1000) < s->fault_probability * 1000.0) {
            a->status = 500;
            a->outcome = O_NPE;
            a->end_us = a->db_start_us + db_us + floordiv(post, 3);
        }
        if (a->outcome == O_OK) {
            double roll = mt_random(&s->g);
            if (ep->is_get_order && roll < 0.02) {
                a->status = 404;
                a->outcome = O_NOT_FOUND;
            } else if (ep->is_create_order && roll < 0.006 * s->noise) {
                a->status = 409;
                a->outcome = O_CONFLICT;
            } else if (ep->is_get_customer && roll < 0.015) {
                a->status = 401;
                a->outcome = O_UNAUTHORIZED;
            }
        }
    }
    if (c->end_us != NONE_US && t < c->end_us && c->end_us <= a->end_us) {
        a->end_us = c->end_us;
        a->status = 0;
        a->outcome = O_KILLED;
    }
    if (a->status == 200 || a->status == 201) {
        a->body_bytes =
            ep->body_low + (int64_t)(mt_random(&s->g) * (double)(ep->body_high - ep->body_low));
    } else {
        int64_t b = error_body_bytes(s, f, a->status);
        if (b < 0) return -1;
        a->body_bytes = b;
    }
    if (f->exemplar == X_NONE && (a->outcome != O_OK || a->db_us > 1000000)) {
        int kinds[2], nk = 0;
        if (a->outcome == O_POOL_TIMEOUT)
            kinds[nk++] = X_POOL_TIMEOUT;
        else if (a->outcome == O_NPE)
            kinds[nk++] = X_NPE;
        else if (a->outcome == O_KILLED)
            kinds[nk++] = X_KILLED;
        else if (a->outcome == O_REFUSED)
            kinds[nk++] = X_REFUSED;
        if (a->db_us > 1000000) kinds[nk++] = X_SLOW_QUERY;
        for (int k = 0; k < nk; k++) set_exemplar(s, f, kinds[k]);
    }
    return 0;
}

/* One attempt of a flight: 1 finished (*res set), 0 retry pending, -1 error. The flight
 * is freed unless a retry is pending: on error too, as nothing else holds it then. */
static int try_attempt(Core *s, Flight *f, int64_t t, int tries, PyObject **res)
{
    *res = NULL;
    int64_t deadline = f->mesh_start_us + s->route_timeout_us;
    routable(s, t);
    int *fresh = s->route, nfresh = s->nroute;
    if (f->natt) { /* a retry prefers a pod not tried yet (Envoy's previous_hosts) */
        int k = 0;
        for (int i = 0; i < s->nroute; i++) {
            int tried = 0;
            for (int j = 0; j < f->natt; j++)
                if (f->att[j].pod == s->route[i]) tried = 1;
            if (!tried) s->fresh[k++] = s->route[i];
        }
        if (k) {
            fresh = s->fresh;
            nfresh = k;
        }
    }
    if (nfresh == 0) {
        if (!f->natt) {
            *res = finish_local(s, f, t + 60 + below(s, 200), 503, M_UH, NULL);
        } else {
            *res = finish_failed(s, f);
        }
        return *res ? 1 : -1;
    }
    int pi = fresh[below(s, nfresh)];
    if (f->natt >= MAX_ATTEMPTS) {
        PyErr_SetString(PyExc_RuntimeError, "too many attempts");
        free_flight(f);
        return -1;
    }
    AttemptC *a = &f->att[f->natt];
    if (run_attempt(s, f, pi, t, a) < 0) {
        free_flight(f);
        return -1;
    }
    f->natt++;
    if (a->end_us > deadline) {
        a->abandoned = 1;
        *res = finish_timeout(s, f, deadline);
        return *res ? 1 : -1;
    }
    int retriable = a->status >= 500 || a->status == 0;
    if (retriable && tries < s->retry_attempts) {
        int64_t backoff =
            (int64_t)(mt_random(&s->g) * (double)((1LL << (tries + 1)) - 1) * 25000.0);
        int64_t nxt = a->end_us + backoff + 300;
        if (nxt < deadline) {
            if (push(s, nxt, K_RETRY, NULL, f, tries + 1) == 0) return 0;
            free_flight(f);
            return -1;
        }
    }
    if ((retriable && tries > 0) || (retriable && a->status == 0))
        *res = finish_failed(s, f);
    else
        *res = finish_upstream(s, f, a);
    return *res ? 1 : -1;
}

static int arrival(Core *s, int64_t t)
{
    if (mt_random(&s->g) < 0.36) {
        ReqFields r;
        if (new_request(s, t, &r) < 0) {
            release_request(&r);
            return -1;
        }
        r.kind = s->k_static;
        Py_ssize_t i = bisect_right(s->static_cum, s->nstatic,
                                    mt_random(&s->g) * s->static_cum[s->nstatic - 1]);
        PyObject *path = s->static_path[i];
        int64_t size = s->static_size[i];
        Py_INCREF(path);
        Py_SETREF(r.path, path);
        int is_root = s->static_root[i];
        if (is_root) r.referer = mt_random(&s->g) < 0.5 ? s->dash : s->search_ref;
        if (!is_root && mt_random(&s->g) < 0.3) {
            r.status = 304;
            r.body_bytes = 0;
        } else {
            r.status = 200;
            r.body_bytes = size;
        }
        r.end_us = t + (int64_t)(-600.0 * log(1.0 - mt_random(&s->g))) + 40;
        r.mesh_flags = s->dash;
        int rc = emit(s, make_request(s, &r));
        release_request(&r);
        return rc;
    }
    ReqFields r;
    if (new_request(s, t, &r) < 0) {
        release_request(&r);
        return -1;
    }
    Flight *f = PyMem_Calloc(1, sizeof(Flight));
    if (!f) {
        release_request(&r);
        PyErr_NoMemory();
        return -1;
    }
    f->n = r.n;
    f->t_us = t;
    f->request_id = r.request_id;
    f->trace_id = r.trace_id;
    f->client_ip = r.client_ip;
    f->user_agent = r.user_agent;
    f->referer = r.referer;
    Py_DECREF(r.path); /* "/" placeholder */
    f->exemplar = X_NONE;
    int ei = (int)bisect_right(s->ep_cum, s->neps, mt_random(&s->g) * s->ep_cum[s->neps - 1]);
    f->ep = ei;
    EndpointC *ep = &s->eps[ei];
    int64_t customer = 1000 + (int64_t)(mt_random(&s->g) * 97001.0);
    int64_t order = 100000 + (int64_t)(mt_random(&s->g) * 840001.0);
    int64_t page = (int64_t)(-0.7 * log(1.0 - mt_random(&s->g)));
    if (page > 9) page = 9;
    PyObject *category = pick(s, s->categories);
    f->customer = customer;
    f->params = PyDict_New();
    if (!f->params) {
        free_flight(f);
        return -1;
    }
    PyObject *value[P_COUNT] = {int_str(customer), int_str(order), int_str(page),
                                Py_NewRef(category)};
    int bad = 0;
    for (int k = 0; k < P_COUNT && !bad; k++)
        bad = !value[k] || PyDict_SetItem(f->params, S_PARAM[k], value[k]) < 0;
    if (!bad && ep->nparts && PyUnicode_IS_ASCII(category)) {
        /* ep->template_.format_map(params), for a plain template */
        char path[512];
        size_t len = 0;
        for (int k = 0; k < ep->nparts && !bad; k++) {
            size_t n = strlen(ep->literal[k]);
            const char *v = NULL;
            size_t vn = 0;
            if (ep->field[k] >= 0) {
                v = (const char *)PyUnicode_DATA(value[ep->field[k]]);
                vn = (size_t)PyUnicode_GET_LENGTH(value[ep->field[k]]);
            }
            if (len + n + vn >= sizeof path) {
                bad = 2; /* too long for the buffer: format_map below */
                break;
            }
            memcpy(path + len, ep->literal[k], n);
            len += n;
            if (v) memcpy(path + len, v, vn);
            len += vn;
        }
        if (!bad) f->path = ascii_str(path, (Py_ssize_t)len);
        if (bad == 2) bad = 0;
    }
    for (int k = 0; k < P_COUNT; k++) Py_XDECREF(value[k]);
    if (bad) {
        free_flight(f);
        return -1;
    }
    if (!f->path) f->path = PyObject_CallMethod(ep->template_, "format_map", "O", f->params);
    if (!f->path) {
        free_flight(f);
        return -1;
    }
    f->mesh_start_us = t + 180 + (int64_t)(mt_random(&s->g) * 120.0);
    int64_t first = f->mesh_start_us + 350 + (int64_t)(mt_random(&s->g) * 300.0);
    PyObject *res;
    int rc = try_attempt(s, f, first, 0, &res);
    if (rc < 0) return -1; /* try_attempt freed the flight */
    if (rc == 1) return emit(s, res);
    return 0;
}

/* ------------------------------------------------------------------ probes, scanners */
static int probe(Core *s, int64_t t, int pi)
{
    PodC *pod = &s->pods[pi];
    int64_t nxt = t + s->probe_period_us;
    if (nxt < pod->deleted_us && push(s, nxt, K_PROBE, NULL, NULL, pi) < 0) return -1;
    if (t < s->start || t >= pod->deleted_us) return 0;
    Cont *c = alive_at(pod, t);
    if (c == NULL) return 0; /* kubelet does not probe a container that is not running */
    int ok;
    PyObject *output;
    if (t < c->ready_us) {
        ok = 0;
        output = pod->out_refused;
    } else {
        Pool *pool = &s->pools[c->pool];
        ok = pool->free[0] <= t + 1000000;
        output = ok ? s->empty : pod->out_deadline;
    }
    PyObject *became = NULL;
    if (ok) {
        pod->probe_fail = 0;
        if (pod->unready_since != NONE_US) {
            pod->unready_since = NONE_US;
            s->route_until = 0;
            became = s->became_ready;
        }
    } else {
        pod->probe_fail++;
        if (pod->probe_fail == s->probe_threshold && t >= c->ready_us) {
            pod->unready_since = t;
            s->route_until = 0;
            became = s->became_unready;
        }
    }
    if (!ok || became) {
        PyObject *tt = PyLong_FromLongLong(t);
        if (!tt) return -1;
        PyObject *args[5] = {tt, pod->obj, ok ? Py_True : Py_False, output,
                             became ? became : Py_None};
        PyObject *o = PyObject_Vectorcall(s->ProbeResult, args, 5, NULL);
        Py_DECREF(tt);
        return emit(s, o);
    }
    return 0;
}

static int scanner(Core *s, int64_t t, PyObject *payload)
{
    ReqFields r;
    if (new_request(s, t, &r) < 0) {
        release_request(&r);
        return -1;
    }
    r.kind = s->k_scanner;
    Py_SETREF(r.client_ip, Py_NewRef(PyTuple_GET_ITEM(payload, 0)));
    r.user_agent = PyTuple_GET_ITEM(payload, 1);
    Py_SETREF(r.path, Py_NewRef(PyTuple_GET_ITEM(payload, 2)));
    r.referer = s->dash;
    r.status = 404;
    r.body_bytes = 153;
    r.end_us = t + 150 + below(s, 400);
    r.mesh_flags = s->dash;
    int rc = emit(s, make_request(s, &r));
    release_request(&r);
    return rc;
}

static int pop_one(Core *s)
{
    Event e = pop_event(s);
    int rc = 0;
    switch (e.kind) {
    case K_FACT:
        Py_INCREF(e.obj);
        rc = emit(s, e.obj);
        break;
    case K_PROBE:
        rc = probe(s, e.t, e.tries);
        break;
    case K_RETRY: {
        PyObject *res;
        int r = try_attempt(s, e.flight, e.t, e.tries, &res);
        rc = r < 0 ? -1 : (r == 1 ? emit(s, res) : 0);
        break;
    }
    default:
        rc = scanner(s, e.t, e.obj);
    }
    Py_XDECREF(e.obj);
    return rc;
}

static int ticks(Core *s, int64_t t)
{
    while (s->next_tick <= t) {
        int64_t tick = s->next_tick;
        int on_chunk = (tick - s->start) % s->chunk_us == 0 && tick < s->end;
        PyObject *a = PyLong_FromLongLong(tick);
        PyObject *b = PyLong_FromLongLong(on_chunk ? tick : -1);
        PyObject *o = NULL;
        if (a && b) {
            PyObject *args[2] = {a, b};
            o = PyObject_Vectorcall(s->Tick, args, 2, NULL);
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (emit(s, o) < 0) return -1;
        s->next_tick = tick + s->flush_us;
    }
    return 0;
}

/* ------------------------------------------------------------------ the loop */
static int step(Core *s)
{
    switch (s->phase) {
    case 0:
        s->next_tick = s->start;
        s->step_start = s->start;
        s->need_step = 1;
        s->phase = 1;
        /* fall through */
    case 1:
        for (;;) {
            if (s->need_step) {
                if (!(s->step_start < s->end)) break;
                s->step_end = s->step_start + s->res < s->end ? s->step_start + s->res : s->end;
                int64_t mid = floordiv(s->step_start + s->step_end, 2);
                PyObject *m = PyLong_FromLongLong(mid);
                if (!m) return -1;
                PyObject *args[1] = {m};
                double lam = call_float(s->rate_at, args, 1);
                Py_DECREF(m);
                if (lam == -1.0 && PyErr_Occurred()) return -1;
                lam *= lognormal(s, s->jitter_median, s->jitter_sigma);
                s->mean_gap_us = (double)s->us / lam;
                s->t = s->step_start + (int64_t)exponential(s, s->mean_gap_us);
                s->need_step = 0;
            }
            while (s->t < s->step_end) {
                int64_t t = s->t;
                while (s->nheap && s->heap[0].t <= t)
                    if (pop_one(s) < 0) return -1;
                if (t >= s->next_tick && ticks(s, t) < 0) return -1;
                if (arrival(s, t) < 0) return -1;
                int64_t gap = (int64_t)exponential(s, s->mean_gap_us);
                s->t = t + (gap > 1 ? gap : 1);
                if (PyList_GET_SIZE(s->out) >= BATCH) return 0;
            }
            s->step_start = s->step_end;
            s->need_step = 1;
        }
        s->phase = 2;
        /* fall through */
    case 2:
        while (s->nheap && s->heap[0].t < s->end) {
            if (ticks(s, s->heap[0].t) < 0) return -1;
            if (pop_one(s) < 0) return -1;
        }
        /* Requests still open at the end resolve in the heap; drain what belongs to them. */
        while (s->nheap) {
            if (s->heap[0].kind == K_RETRY) {
                if (pop_one(s) < 0) return -1;
            } else {
                Event e = pop_event(s);
                Py_XDECREF(e.obj);
            }
        }
        if (ticks(s, s->end) < 0) return -1;
        {
            PyObject *a = PyLong_FromLongLong(s->end + 3600 * s->us);
            PyObject *b = PyLong_FromLong(-1);
            PyObject *o = NULL;
            if (a && b) {
                PyObject *args[2] = {a, b};
                o = PyObject_Vectorcall(s->Tick, args, 2, NULL);
            }
            Py_XDECREF(a);
            Py_XDECREF(b);
            if (emit(s, o) < 0) return -1;
        }
        s->phase = 3;
        return 0;
    default:
        return 0;
    }
}

static int not_ready(Core *s)
{
    if (s->ready == 1) return 0;
    PyErr_SetString(PyExc_RuntimeError, "Core is not initialised");
    return 1;
}

static PyObject *Core_iternext(Core *s)
{
    if (not_ready(s)) return NULL; /* never initialised, a failed __init__, or cleared */
    for (;;) {
        if (s->pos < PyList_GET_SIZE(s->out)) {
            PyObject *o = PyList_GET_ITEM(s->out, s->pos);
            s->pos++;
            Py_INCREF(o);
            return o;
        }
        if (PyList_SetSlice(s->out, 0, PyList_GET_SIZE(s->out), NULL) < 0) return NULL;
        s->pos = 0;
        if (s->phase == 3 || s->phase < 0) return NULL;
        if (step(s) < 0) {
            s->phase = -1; /* a failed core stays failed */
            return NULL;
        }
    }
}

/* ------------------------------------------------------------------ Python API */
static PyObject *Core_random(Core *s, PyObject *Py_UNUSED(ignored))
{
    return PyFloat_FromDouble(mt_random(&s->g));
}

static PyObject *Core_push(Core *s, PyObject *args)
{
    long long t;
    int kind;
    PyObject *payload;
    if (!PyArg_ParseTuple(args, "LiO:push", &t, &kind, &payload)) return NULL;
    if (not_ready(s)) return NULL;
    if (s->phase != 0) {
        PyErr_SetString(PyExc_RuntimeError, "push() only before iterating");
        return NULL;
    }
    int rc;
    if (kind == K_FACT) {
        rc = push(s, t, K_FACT, payload, NULL, 0);
    } else if (kind == K_PROBE) {
        long pi = PyLong_AsLong(payload);
        if (pi == -1 && PyErr_Occurred()) return NULL;
        if (pi < 0 || pi >= s->npods) {
            PyErr_SetString(PyExc_IndexError, "probe: no such pod index");
            return NULL;
        }
        rc = push(s, t, K_PROBE, NULL, NULL, (int)pi);
    } else if (kind == K_SCANNER) {
        if (!PyTuple_Check(payload) || PyTuple_GET_SIZE(payload) != 3) {
            PyErr_SetString(PyExc_TypeError, "scanner payload: (ip, agent, path)");
            return NULL;
        }
        rc = push(s, t, K_SCANNER, payload, NULL, 0);
    } else {
        PyErr_Format(PyExc_ValueError, "push: kind %d is not FACT, PROBE or SCANNER", kind);
        return NULL;
    }
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static int get_i64(PyObject *d, const char *key, int64_t *out)
{
    PyObject *v = PyDict_GetItemString(d, key); /* borrowed */
    if (!v) {
        PyErr_Format(PyExc_KeyError, "missing %s", key);
        return -1;
    }
    if (v == Py_None) {
        *out = NONE_US;
        return 0;
    }
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    *out = x;
    return 0;
}

static int get_f64(PyObject *d, const char *key, double *out)
{
    PyObject *v = PyDict_GetItemString(d, key);
    if (!v) {
        PyErr_Format(PyExc_KeyError, "missing %s", key);
        return -1;
    }
    *out = PyFloat_AsDouble(v);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *get_obj(PyObject *d, const char *key)
{
    PyObject *v = PyDict_GetItemString(d, key);
    if (!v) {
        PyErr_Format(PyExc_KeyError, "missing %s", key);
        return NULL;
    }
    Py_INCREF(v);
    return v;
}

static PyObject *get_tuple(PyObject *d, const char *key)
{
    PyObject *v = get_obj(d, key);
    if (v && !PyTuple_Check(v)) {
        Py_DECREF(v);
        PyErr_Format(PyExc_TypeError, "%s must be a tuple", key);
        return NULL;
    }
    return v;
}

static double *f64_array(PyObject *tuple, Py_ssize_t *n)
{
    *n = PyTuple_GET_SIZE(tuple);
    double *a = PyMem_Calloc(*n ? *n : 1, sizeof(double));
    if (!a) return (double *)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < *n; i++) {
        a[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(tuple, i));
        if (a[i] == -1.0 && PyErr_Occurred()) {
            PyMem_Free(a);
            return NULL;
        }
    }
    return a;
}

static int i64_of(PyObject *v, int64_t *out)
{
    if (v == Py_None) {
        *out = NONE_US;
        return 0;
    }
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    *out = x;
    return 0;
}

/* The offsets of a slotted dataclass's fields, which must be exactly ``names`` in order
 * (cfg[fields_key] is the class's own dataclasses.fields() order): the core writes
 * instances field by field, so any other layout is refused. */
static int slot_offsets(PyObject *cls, PyObject *cfg, const char *fields_key,
                        const char *const *names, int n, Py_ssize_t *offsets)
{
    if (!PyType_Check(cls) || ((PyTypeObject *)cls)->tp_dictoffset != 0) {
        PyErr_Format(PyExc_TypeError, "%s: a slotted class without __dict__ expected",
                     fields_key);
        return -1;
    }
    PyObject *fields = PyDict_GetItemString(cfg, fields_key);
    if (!fields || !PyTuple_Check(fields) || PyTuple_GET_SIZE(fields) != n) {
        PyErr_Format(PyExc_ValueError, "%s: the class has changed; %d fields expected",
                     fields_key, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        if (!PyUnicode_Check(f) || PyUnicode_CompareWithASCIIString(f, names[i]) != 0) {
            PyErr_Format(PyExc_ValueError, "%s[%d] is %R, the core expects %s", fields_key, i,
                         f, names[i]);
            return -1;
        }
        PyObject *d = _PyType_Lookup((PyTypeObject *)cls, f); /* borrowed */
        if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            PyErr_Format(PyExc_TypeError, "%s: %s is not a slot", fields_key, names[i]);
            return -1;
        }
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY)) {
            PyErr_Format(PyExc_TypeError, "%s: %s is not a writable object slot", fields_key,
                         names[i]);
            return -1;
        }
        offsets[i] = m->offset;
    }
    return 0;
}

/* The endpoint's template_parts (from string.Formatter().parse, by _sim.py): pairs of
 * literal text and a param name or None. Anything but ASCII literals and the four
 * params leaves nparts at 0, and the path is then built by format_map. */
static int template_parts(PyObject *d, EndpointC *e)
{
    PyObject *parts = PyDict_GetItemString(d, "template_parts");
    e->nparts = 0;
    if (!parts || parts == Py_None) return 0;
    if (!PyTuple_Check(parts) || PyTuple_GET_SIZE(parts) > MAX_PARTS) return 0;
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *pair = PyTuple_GET_ITEM(parts, k);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) return 0;
        PyObject *lit = PyTuple_GET_ITEM(pair, 0), *name = PyTuple_GET_ITEM(pair, 1);
        if (!PyUnicode_Check(lit) || !PyUnicode_IS_ASCII(lit)) return 0;
        int field = -1;
        if (name != Py_None) {
            for (int p = 0; p < P_COUNT; p++)
                if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, PARAM_NAMES[p]) == 0)
                    field = p;
            if (field < 0) return 0;
        }
        e->field[k] = field;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *lit = PyTuple_GET_ITEM(PyTuple_GET_ITEM(parts, k), 0);
        Py_ssize_t len = PyUnicode_GET_LENGTH(lit);
        e->literal[k] = PyMem_Malloc((size_t)len + 1);
        if (!e->literal[k]) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(e->literal[k], PyUnicode_DATA(lit), (size_t)len);
        e->literal[k][len] = 0;
        e->nparts = (int)k + 1;
    }
    return 0;
}

/* Core(config: dict): every input is built by _sim.py's _native_config(). */
static int Core_init(Core *s, PyObject *args, PyObject *kw)
{
    PyObject *cfg;
    if (!PyArg_ParseTuple(args, "O!:Core", &PyDict_Type, &cfg)) return -1;
    if (s->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Core is initialised once");
        return -1;
    }
    s->ready = -1; /* until the end: a failed __init__ leaves a core that refuses to run */
    s->out = PyList_New(0);
    if (!s->out) return -1;

    /* generator state: random.Random.getstate()[1] = 624 words + index */
    PyObject *st = PyDict_GetItemString(cfg, "mt_state");
    if (!st || !PyTuple_Check(st) || PyTuple_GET_SIZE(st) != MT_N + 1) {
        PyErr_SetString(PyExc_ValueError, "mt_state: 625 integers");
        return -1;
    }
    for (int i = 0; i < MT_N; i++) {
        unsigned long w = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(st, i));
        if (w == (unsigned long)-1 && PyErr_Occurred()) return -1;
        s->g.mt[i] = (uint32_t)w;
    }
    long idx = PyLong_AsLong(PyTuple_GET_ITEM(st, MT_N));
    if (idx == -1 && PyErr_Occurred()) return -1;
    if (idx < 0 || idx > MT_N) {
        PyErr_SetString(PyExc_ValueError, "mt_state: bad index");
        return -1;
    }
    s->g.index = (int)idx;

    int64_t tmp;
    if (get_i64(cfg, "start", &s->start) || get_i64(cfg, "end", &s->end) ||
        get_i64(cfg, "res", &s->res) || get_i64(cfg, "us", &s->us) ||
        get_i64(cfg, "chunk_us", &s->chunk_us) || get_i64(cfg, "flush_us", &s->flush_us) ||
        get_i64(cfg, "route_timeout_us", &s->route_timeout_us) ||
        get_i64(cfg, "hikari_timeout_us", &s->hikari_timeout_us) ||
        get_i64(cfg, "eds_lag_us", &s->eds_lag_us) ||
        get_i64(cfg, "probe_period_us", &s->probe_period_us))
        return -1;
    if (get_i64(cfg, "probe_threshold", &tmp)) return -1;
    s->probe_threshold = (int)tmp;
    if (get_i64(cfg, "retry_attempts", &tmp)) return -1;
    s->retry_attempts = (int)tmp;
    if (s->retry_attempts < 0 || s->retry_attempts >= MAX_ATTEMPTS) {
        PyErr_SetString(PyExc_ValueError, "retry_attempts out of range");
        return -1;
    }
    if (get_i64(cfg, "pool_size", &tmp)) return -1;
    s->pool_size = (int)tmp;
    if (s->pool_size < 1) {
        PyErr_SetString(PyExc_ValueError, "pool_size must be >= 1");
        return -1;
    }
    if (s->res <= 0 || s->chunk_us <= 0 || s->flush_us <= 0 || s->us <= 0) {
        PyErr_SetString(PyExc_ValueError, "res, chunk_us, flush_us and us must be > 0");
        return -1;
    }
    if (get_f64(cfg, "noise", &s->noise) || get_f64(cfg, "jitter_median", &s->jitter_median) ||
        get_f64(cfg, "jitter_sigma", &s->jitter_sigma) ||
        get_f64(cfg, "fault_probability", &s->fault_probability))
        return -1;

    PyObject *zt = get_tuple(cfg, "z_table");
    if (!zt) return -1;
    s->zt = f64_array(zt, &s->nz);
    Py_DECREF(zt);
    if (!s->zt) return -1;
    if (s->nz < 2) {
        PyErr_SetString(PyExc_ValueError, "z_table too short");
        return -1;
    }

    if (!(s->nets = get_tuple(cfg, "nets")) || !(s->agents = get_tuple(cfg, "agents")) ||
        !(s->referers = get_tuple(cfg, "referers")) ||
        !(s->categories = get_tuple(cfg, "categories")))
        return -1;
    if (!PyTuple_GET_SIZE(s->nets) || !PyTuple_GET_SIZE(s->agents) ||
        !PyTuple_GET_SIZE(s->referers) || !PyTuple_GET_SIZE(s->categories)) {
        PyErr_SetString(PyExc_ValueError, "empty catalog tuple");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(s->nets); i++) {
        PyObject *net = PyTuple_GET_ITEM(s->nets, i);
        if (!PyUnicode_Check(net) || !PyUnicode_IS_ASCII(net) || PyUnicode_GET_LENGTH(net) > 32) {
            PyErr_SetString(PyExc_ValueError, "nets: ASCII prefixes of at most 32 characters");
            return -1;
        }
    }

    /* static assets: cumulative weights + (path, size) */
    PyObject *scum = get_tuple(cfg, "static_cum"), *sitems = get_tuple(cfg, "static_items");
    if (!scum || !sitems) {
        Py_XDECREF(scum);
        Py_XDECREF(sitems);
        return -1;
    }
    s->static_cum = f64_array(scum, &s->nstatic);
    Py_DECREF(scum);
    if (!s->static_cum || PyTuple_GET_SIZE(sitems) != s->nstatic || !s->nstatic) {
        Py_DECREF(sitems);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "static assets mismatch");
        return -1;
    }
    s->static_path = PyMem_Calloc(s->nstatic, sizeof(PyObject *));
    s->static_size = PyMem_Calloc(s->nstatic, sizeof(int64_t));
    s->static_root = PyMem_Calloc(s->nstatic, sizeof(int));
    if (!s->static_path || !s->static_size || !s->static_root) {
        Py_DECREF(sitems);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < s->nstatic; i++) {
        PyObject *it = PyTuple_GET_ITEM(sitems, i);
        if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 2 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(it, 0))) {
            Py_DECREF(sitems);
            PyErr_SetString(PyExc_TypeError, "static_items: (path, size) pairs");
            return -1;
        }
        s->static_path[i] = Py_NewRef(PyTuple_GET_ITEM(it, 0));
        s->static_root[i] = PyUnicode_CompareWithASCIIString(s->static_path[i], "/") == 0;
        if (i64_of(PyTuple_GET_ITEM(it, 1), &s->static_size[i]) < 0) {
            Py_DECREF(sitems);
            return -1;
        }
    }
    Py_DECREF(sitems);

    /* endpoints */
    PyObject *ecum = get_tuple(cfg, "endpoint_cum"), *eitems = get_tuple(cfg, "endpoints");
    if (!ecum || !eitems) {
        Py_XDECREF(ecum);
        Py_XDECREF(eitems);
        return -1;
    }
    s->ep_cum = f64_array(ecum, &s->neps);
    Py_DECREF(ecum);
    if (!s->ep_cum || PyTuple_GET_SIZE(eitems) != s->neps || !s->neps) {
        Py_DECREF(eitems);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "endpoints mismatch");
        return -1;
    }
    s->eps = PyMem_Calloc(s->neps, sizeof(EndpointC));
    if (!s->eps) {
        Py_DECREF(eitems);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < s->neps; i++) {
        PyObject *d = PyTuple_GET_ITEM(eitems, i);
        EndpointC *e = &s->eps[i];
        PyObject *key = NULL;
        if (!PyDict_Check(d) || !(e->obj = get_obj(d, "obj")) ||
            !(e->method = get_obj(d, "method")) || !(e->template_ = get_obj(d, "template")) ||
            !(e->qkey = get_obj(d, "query_key")) || !(key = get_obj(d, "key")) ||
            get_f64(d, "cpu_ms", &e->cpu_ms) || get_f64(d, "query_median_ms", &e->q_median_ms) ||
            get_f64(d, "query_sigma", &e->q_sigma) || get_i64(d, "ok_status", &e->ok_status) ||
            get_i64(d, "body_low", &e->body_low) || get_i64(d, "body_high", &e->body_high) ||
            get_i64(d, "request_bytes", &e->request_bytes)) {
            Py_XDECREF(key);
            Py_DECREF(eitems);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "endpoint: dict expected");
            return -1;
        }
        if (template_parts(d, e) < 0) {
            Py_DECREF(key);
            Py_DECREF(eitems);
            return -1;
        }
        e->is_get_order = PyUnicode_CompareWithASCIIString(key, "get_order") == 0;
        e->is_create_order = PyUnicode_CompareWithASCIIString(key, "create_order") == 0;
        e->is_get_customer = PyUnicode_CompareWithASCIIString(key, "get_customer") == 0;
        Py_DECREF(key);
    }
    Py_DECREF(eitems);

    /* pods, their containers, and one pool per (pod, restart count) */
    PyObject *pods = get_tuple(cfg, "pods");
    if (!pods) return -1;
    s->npods = (int)PyTuple_GET_SIZE(pods);
    s->pods = PyMem_Calloc(s->npods ? s->npods : 1, sizeof(PodC));
    s->route = PyMem_Calloc(s->npods ? s->npods : 1, sizeof(int));
    s->fresh = PyMem_Calloc(s->npods ? s->npods : 1, sizeof(int));
    if (!s->pods || !s->route || !s->fresh) {
        Py_DECREF(pods);
        PyErr_NoMemory();
        return -1;
    }
    int ncont_total = 0;
    for (int i = 0; i < s->npods; i++) {
        PyObject *d = PyTuple_GET_ITEM(pods, i);
        PyObject *conts = PyDict_Check(d) ? PyDict_GetItemString(d, "containers") : NULL;
        if (!conts || !PyTuple_Check(conts)) {
            Py_DECREF(pods);
            PyErr_SetString(PyExc_TypeError, "pod: dict with a containers tuple expected");
            return -1;
        }
        ncont_total += (int)PyTuple_GET_SIZE(conts);
    }
    s->pools = PyMem_Calloc(ncont_total ? ncont_total : 1, sizeof(Pool));
    if (!s->pools) {
        Py_DECREF(pods);
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < s->npods; i++) {
        PyObject *d = PyTuple_GET_ITEM(pods, i);
        PodC *p = &s->pods[i];
        int64_t faulty;
        p->unready_since = NONE_US;
        if (!(p->obj = get_obj(d, "obj")) || !(p->upstream_host = get_obj(d, "upstream_host")) ||
            !(p->out_refused = get_obj(d, "out_refused")) ||
            !(p->out_deadline = get_obj(d, "out_deadline")) ||
            get_i64(d, "deleted_us", &p->deleted_us) || get_i64(d, "faulty", &faulty)) {
            Py_DECREF(pods);
            return -1;
        }
        p->faulty = (int)faulty;
        PyObject *conts = PyDict_GetItemString(d, "containers");
        p->ncont = (int)PyTuple_GET_SIZE(conts);
        p->cont = PyMem_Calloc(p->ncont ? p->ncont : 1, sizeof(Cont));
        if (!p->cont) {
            Py_DECREF(pods);
            PyErr_NoMemory();
            return -1;
        }
        for (int k = 0; k < p->ncont; k++) {
            PyObject *cd = PyTuple_GET_ITEM(conts, k);
            Cont *c = &p->cont[k];
            if (!PyDict_Check(cd) || !(c->obj = get_obj(cd, "obj")) ||
                get_i64(cd, "start_us", &c->start_us) || get_i64(cd, "ready_us", &c->ready_us) ||
                get_i64(cd, "end_us", &c->end_us) ||
                get_i64(cd, "restart_count", &c->restart_count)) {
                Py_DECREF(pods);
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "container: dict");
                return -1;
            }
            /* Python keys pools by (pod name, restart count): share on equal counts. */
            c->pool = -1;
            for (int j = 0; j < k; j++)
                if (p->cont[j].restart_count == c->restart_count) c->pool = p->cont[j].pool;
            if (c->pool < 0) {
                Pool *pool = &s->pools[s->npools];
                pool->free = PyMem_Calloc(s->pool_size, sizeof(int64_t));
                if (!pool->free) {
                    Py_DECREF(pods);
                    PyErr_NoMemory();
                    return -1;
                }
                c->pool = s->npools++;
            }
        }
    }
    Py_DECREF(pods);

    PyObject *life = get_tuple(cfg, "lifecycle");
    if (!life) return -1;
    s->nlife = PyTuple_GET_SIZE(life);
    s->lifecycle = PyMem_Calloc(s->nlife ? s->nlife : 1, sizeof(int64_t));
    if (!s->lifecycle) {
        Py_DECREF(life);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < s->nlife; i++)
        if (i64_of(PyTuple_GET_ITEM(life, i), &s->lifecycle[i]) < 0) {
            Py_DECREF(life);
            return -1;
        }
    Py_DECREF(life);
    s->route_from = (int64_t)1 << 62;
    s->route_until = 0;

    if (!(s->rate_at = get_obj(cfg, "rate_at")) || !(s->cpu_time = get_obj(cfg, "cpu_time")) ||
        !(s->db_time = get_obj(cfg, "db_time")) || !(s->unchanged = get_obj(cfg, "unchanged")) ||
        !(s->db_wait = get_obj(cfg, "db_wait")) || !(s->no_wait = get_obj(cfg, "no_wait")) ||
        !(s->Request = get_obj(cfg, "Request")) || !(s->Attempt = get_obj(cfg, "Attempt")) ||
        !(s->Tick = get_obj(cfg, "Tick")) || !(s->ProbeResult = get_obj(cfg, "ProbeResult")))
        return -1;

    static const char *REQUEST_FIELDS[28] = {
        "n", "t_us", "request_id", "trace_id", "kind", "client_ip", "user_agent", "referer",
        "method", "path", "endpoint", "params", "status", "body_bytes", "end_us",
        "upstream_us", "request_bytes", "mesh_start_us", "mesh_end_us", "mesh_code",
        "mesh_flags", "mesh_details", "mesh_bytes_sent", "upstream_service_ms",
        "upstream_host", "transport_failure", "attempts", "exemplar"};
    static const char *ATTEMPT_FIELDS[12] = {
        "pod", "container", "start_us", "end_us", "status", "outcome", "db_start_us", "db_us",
        "pool_wait_us", "pool_waiting", "body_bytes", "abandoned"};
    if (slot_offsets(s->Request, cfg, "request_fields", REQUEST_FIELDS, 28, s->request_slots) ||
        slot_offsets(s->Attempt, cfg, "attempt_fields", ATTEMPT_FIELDS, 12, s->attempt_slots))
        return -1;

    PyObject *key = PyDict_GetItemString(cfg, "ids_key");
    if (!key || !PyBytes_Check(key) || PyBytes_GET_SIZE(key) < 1 || PyBytes_GET_SIZE(key) > 64) {
        PyErr_SetString(PyExc_ValueError, "ids_key: 1 to 64 bytes");
        return -1;
    }
    b2b_keyed(s->ids_keyed, (const uint8_t *)PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key),
              ID_BYTES);

    PyObject *text = PyDict_GetItemString(cfg, "text");
    if (!text || !PyDict_Check(text)) {
        PyErr_SetString(PyExc_KeyError, "missing text");
        return -1;
    }
    if (!(s->k_static = get_obj(text, "static")) || !(s->k_api = get_obj(text, "api")) ||
        !(s->k_scanner = get_obj(text, "scanner")) || !(s->m_get = get_obj(text, "GET")) ||
        !(s->root = get_obj(text, "/")) || !(s->dash = get_obj(text, "-")) ||
        !(s->search_ref = get_obj(text, "search_referer")) ||
        !(s->became_ready = get_obj(text, "ready")) ||
        !(s->became_unready = get_obj(text, "not ready")) || !(s->empty = get_obj(text, "")) ||
        !(s->transport_refused = get_obj(text, "transport_refused")))
        return -1;
    static const char *mkeys[M_COUNT] = {"via",        "urx", "uh",         "ut",
                                         "uf",         "uf_retried", "uc", "uc_retried"};
    for (int m = 0; m < M_COUNT; m++) {
        PyObject *e = PyDict_GetItemString(text, mkeys[m]);
        if (!e || !PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 3) {
            PyErr_Format(PyExc_ValueError, "text[%s]: (flags, details, body length)", mkeys[m]);
            return -1;
        }
        s->mflags[m] = Py_NewRef(PyTuple_GET_ITEM(e, 0));
        s->mdetails[m] = Py_NewRef(PyTuple_GET_ITEM(e, 1));
        if (i64_of(PyTuple_GET_ITEM(e, 2), &s->mbody[m]) < 0) return -1;
    }
    s->ready = 1;
    return 0;
}

/* The core is in a reference cycle whenever it runs: _sim.py sets rng.random to the bound
 * core.random, and rate_at's closure holds the Simulation that holds the rng. So the core
 * takes part in the cyclic GC (traverse, clear); without it every run leaked its core and
 * Simulation, and a core dropped half-iterated its heap and buffered emissions too. */
#define CORE_OBJECTS(s)                                                                    \
    {&(s)->nets,           &(s)->agents,     &(s)->referers,     &(s)->categories,          \
     &(s)->rate_at,        &(s)->cpu_time,   &(s)->db_time,      &(s)->Request,             \
     &(s)->Attempt,        &(s)->Tick,       &(s)->ProbeResult,  &(s)->k_static,            \
     &(s)->k_api,          &(s)->k_scanner,  &(s)->m_get,        &(s)->root,                \
     &(s)->dash,           &(s)->search_ref, &(s)->became_ready, &(s)->became_unready,      \
     &(s)->empty,          &(s)->transport_refused, &(s)->out,     &(s)->unchanged,        \
     &(s)->db_wait,        &(s)->no_wait}

/* Every reference the core's tables own, outside the event heap, walked in one place:
 * the collector visits them and Core_clear drops them from this same list, so the two
 * cannot drift apart when a field is added. */
typedef int (*SlotFn)(PyObject **slot, void *ctx);

static int core_slots(Core *s, SlotFn fn, void *ctx)
{
#define SLOT(p)                          \
    do {                                 \
        int rc_ = fn(&(p), ctx);         \
        if (rc_) return rc_;             \
    } while (0)
    PyObject **objs[] = CORE_OBJECTS(s);
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) SLOT(*objs[i]);
    for (int m = 0; m < M_COUNT; m++) {
        SLOT(s->mflags[m]);
        SLOT(s->mdetails[m]);
    }
    for (Py_ssize_t i = 0; i < s->nstatic && s->static_path; i++) SLOT(s->static_path[i]);
    for (Py_ssize_t i = 0; i < s->neps && s->eps; i++) {
        SLOT(s->eps[i].obj);
        SLOT(s->eps[i].method);
        SLOT(s->eps[i].template_);
        SLOT(s->eps[i].qkey);
    }
    for (int i = 0; i < s->npods && s->pods; i++) {
        PodC *p = &s->pods[i];
        SLOT(p->obj);
        SLOT(p->upstream_host);
        SLOT(p->out_refused);
        SLOT(p->out_deadline);
        for (int k = 0; k < p->ncont && p->cont; k++) SLOT(p->cont[k].obj);
    }
#undef SLOT
    return 0;
}

typedef struct {
    visitproc visit;
    void *arg;
} Visit;

static int visit_slot(PyObject **slot, void *ctx)
{
    Visit *v = ctx;
    return *slot ? v->visit(*slot, v->arg) : 0;
}

static int clear_slot(PyObject **slot, void *ctx)
{
    (void)ctx;
    Py_CLEAR(*slot);
    return 0;
}

static int Core_traverse(Core *s, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < s->nheap; i++) {
        Py_VISIT(s->heap[i].obj);
        if (s->heap[i].flight) Py_VISIT(s->heap[i].flight->params);
    }
    Visit v = {visit, arg};
    return core_slots(s, visit_slot, &v);
}

/* Drops every reference (the pending events and their flights too); a cleared core
 * refuses to run. The plain C tables are freed by Core_dealloc. */
static int Core_clear(Core *s)
{
    s->ready = -1;
    Py_ssize_t n = s->nheap;
    s->nheap = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_CLEAR(s->heap[i].obj);
        if (s->heap[i].flight) free_flight(s->heap[i].flight);
        s->heap[i].flight = NULL;
    }
    return core_slots(s, clear_slot, NULL);
}

static void Core_dealloc(Core *s)
{
    PyObject_GC_UnTrack(s);
    Core_clear(s);
    PyMem_Free(s->heap);
    PyMem_Free(s->zt);
    PyMem_Free(s->static_path);
    PyMem_Free(s->static_size);
    PyMem_Free(s->static_root);
    PyMem_Free(s->static_cum);
    for (Py_ssize_t i = 0; i < s->neps && s->eps; i++)
        for (int k = 0; k < s->eps[i].nparts; k++) PyMem_Free(s->eps[i].literal[k]);
    PyMem_Free(s->eps);
    PyMem_Free(s->ep_cum);
    for (int i = 0; i < s->npods && s->pods; i++) PyMem_Free(s->pods[i].cont);
    PyMem_Free(s->pods);
    for (int i = 0; i < s->npools && s->pools; i++) {
        PyMem_Free(s->pools[i].free);
        PyMem_Free(s->pools[i].waiters);
    }
    PyMem_Free(s->pools);
    PyMem_Free(s->lifecycle);
    PyMem_Free(s->route);
    PyMem_Free(s->fresh);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef Core_methods[] = {
    {"random", (PyCFunction)Core_random, METH_NOARGS,
     "The next draw of the simulation's generator (as random.Random.random)."},
    {"push", (PyCFunction)Core_push, METH_VARARGS,
     "push(t_us, kind, payload): schedule a fact, a first probe or a scanner hit."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "rca.seed._simcore.Core",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The simulation's main loop; iterate it for the emissions.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Core_init,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_traverse = (traverseproc)Core_traverse,
    .tp_clear = (inquiry)Core_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Core_iternext,
    .tp_methods = Core_methods,
};

/* ------------------------------------------------------------------ mesh lines */
/* MeshFormatter(config)(request, local_port, remote_port, second_text) -> str | None: the
 * Istio JSON access-log line of renderers/mesh.py, byte for byte (its f-string is the
 * reference; tests/unit/test_simcore.py compares both). None when a value is off the
 * plain-ASCII fast path: the renderer then formats that line itself. */
enum {
    MF_REQUEST_BYTES,
    MF_BYTES_SENT,
    MF_START,
    MF_END,
    MF_METHOD,
    MF_PATH,
    MF_REQUEST_ID,
    MF_CODE,
    MF_DETAILS,
    MF_FLAGS,
    MF_HOST,
    MF_SERVICE_MS,
    MF_FAILURE,
    MF_AGENT,
    MF_CLIENT_IP,
    MF_N
};
static const char *MF_FIELDS[MF_N] = {
    "request_bytes", "mesh_bytes_sent", "mesh_start_us", "mesh_end_us", "method",
    "path", "request_id", "mesh_code", "mesh_details", "mesh_flags", "upstream_host",
    "upstream_service_ms", "transport_failure", "user_agent", "client_ip"};

typedef struct {
    PyObject_HEAD Py_ssize_t off[MF_N];
    PyObject *Request, *escape;
    char authority[256], cluster[256], web_ip[64], downstream_local[96];
} MeshFormatter;

typedef struct {
    char *p, *end;
    int ok;
} Buf;

static void put(Buf *b, const char *s, size_t n)
{
    if (!b->ok || (size_t)(b->end - b->p) < n) {
        b->ok = 0;
        return;
    }
    memcpy(b->p, s, n);
    b->p += n;
}
#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)
static void put_c(Buf *b, const char *s) { put(b, s, strlen(s)); }
static void put_i64(Buf *b, int64_t v)
{
    char tmp[24];
    put(b, tmp, (size_t)fmt_i64(tmp, v));
}
/* f".{ms:03d}" for 0 <= ms < 1000 */
static void put_ms(Buf *b, int64_t ms)
{
    char tmp[4] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10)};
    put(b, tmp, 4);
}
/* A str as it is (f"{s}"): plain ASCII only. */
static void put_ascii(Buf *b, PyObject *s)
{
    if (!b->ok || !PyUnicode_Check(s) || !PyUnicode_IS_ASCII(s)) {
        b->ok = 0;
        return;
    }
    put(b, (const char *)PyUnicode_DATA(s), (size_t)PyUnicode_GET_LENGTH(s));
}
/* A JSON string value as mesh._s writes it: quoted as is when every character is
 * printable ASCII other than '"' and '\\'; otherwise json.dumps (the escape callable). */
static int put_json_str(Buf *b, PyObject *s, PyObject *escape)
{
    if (!b->ok) return 0;
    if (s == Py_None) {
        PUTS(b, "null");
        return 0;
    }
    if (!PyUnicode_Check(s)) {
        b->ok = 0;
        return 0;
    }
    int safe = PyUnicode_IS_ASCII(s);
    if (safe) {
        const unsigned char *c = PyUnicode_DATA(s);
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        for (Py_ssize_t i = 0; i < n; i++)
            if (c[i] < 0x20 || c[i] > 0x7e || c[i] == '"' || c[i] == '\\') {
                safe = 0;
                break;
            }
    }
    if (safe) {
        PUTS(b, "\"");
        put_ascii(b, s);
        PUTS(b, "\"");
        return 0;
    }
    PyObject *v = PyObject_CallOneArg(escape, s);
    if (!v) return -1;
    put_ascii(b, v);
    Py_DECREF(v);
    return 0;
}
static int int_field(PyObject *v, int64_t *out)
{
    /* v may be NULL: the handlers pass request slots straight in, and an unset slot (a
     * deleted attribute) is off the fast path, not a NULL dereference. */
    if (!v || !PyLong_CheckExact(v)) return -1;
    int overflow;
    /* Not PyLong_AsLongLong: for microsecond times (two 30-bit digits) it goes through
     * _PyLong_AsByteArray, several times slower. */
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) return -1;
    /* Within +-2**62 the differences the formatters take (end - start) cannot overflow;
     * anything bigger is off the fast path. */
    if (x >= ((int64_t)1 << 62) || x <= -((int64_t)1 << 62)) return -1;
    *out = x;
    return 0;
}

/* The slot offsets of the named fields of a request class (object slots only). */
static int request_offsets(PyObject *cls, const char *const *names, int n, Py_ssize_t *off)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "a request class expected");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PyObject *name = PyUnicode_FromString(names[i]);
        if (!name) return -1;
        PyObject *d = _PyType_Lookup((PyTypeObject *)cls, name);
        Py_DECREF(name);
        if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type) ||
            ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
            PyErr_Format(PyExc_TypeError, "%s is not an object slot of the class", names[i]);
            return -1;
        }
        off[i] = ((PyMemberDescrObject *)d)->d_member->offset;
    }
    return 0;
}

static PyObject *mesh_line(MeshFormatter *self, PyObject *const *f, long long port_local,
                           long long port_remote, const char *sec, size_t sec_len);

static PyObject *MeshFormatter_call(MeshFormatter *self, PyObject *args, PyObject *kw)
{
    PyObject *r, *sec;
    long long port_local, port_remote;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "MeshFormatter takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OLLU:MeshFormatter", &r, &port_local, &port_remote, &sec))
        return NULL;
    if (Py_TYPE(r) != (PyTypeObject *)self->Request) {
        PyErr_SetString(PyExc_TypeError, "MeshFormatter: a Request expected");
        return NULL;
    }
    PyObject *f[MF_N];
    for (int i = 0; i < MF_N; i++) {
        f[i] = *(PyObject **)((char *)r + self->off[i]);
        if (!f[i]) {
            PyErr_Format(PyExc_AttributeError, "request has no %s", MF_FIELDS[i]);
            return NULL;
        }
    }
    /* Held for the line: escape runs Python code (a str subclass's __iter__, say), which
     * could set the request's fields and free the values read above. */
    if (!PyUnicode_IS_ASCII(sec)) Py_RETURN_NONE;
    for (int i = 0; i < MF_N; i++) Py_INCREF(f[i]);
    PyObject *line = mesh_line(self, f, port_local, port_remote, (const char *)PyUnicode_DATA(sec),
                               (size_t)PyUnicode_GET_LENGTH(sec));
    for (int i = 0; i < MF_N; i++) Py_DECREF(f[i]);
    return line;
}

static PyObject *mesh_line(MeshFormatter *self, PyObject *const *f, long long port_local,
                           long long port_remote, const char *sec, size_t sec_len)
{
    int64_t request_bytes, bytes_sent, start, end, code, service_ms = 0;
    if (int_field(f[MF_REQUEST_BYTES], &request_bytes) ||
        int_field(f[MF_BYTES_SENT], &bytes_sent) || int_field(f[MF_START], &start) ||
        int_field(f[MF_END], &end) || int_field(f[MF_CODE], &code) ||
        (f[MF_SERVICE_MS] != Py_None && int_field(f[MF_SERVICE_MS], &service_ms)))
        Py_RETURN_NONE; /* not plain ints: the renderer formats the line */
    int has_host = f[MF_HOST] != Py_None;
    /* Held: escape runs Python code, which could re-init the formatter (and drop
     * self->escape) between the path's escape and the user agent's. */
    PyObject *escape = Py_NewRef(self->escape);
    int64_t duration = floordiv(end - start, 1000);
    if (duration < 0) duration = 0;
    int64_t ms = floordiv(start - floordiv(start, 1000000) * 1000000, 1000);

    char text[8192];
    Buf b = {text, text + sizeof text, 1};
    PUTS(&b, "{\"authority\":\"");
    put_c(&b, self->authority);
    PUTS(&b, "\",\"bytes_received\":");
    put_i64(&b, request_bytes);
    PUTS(&b, ",\"bytes_sent\":");
    put_i64(&b, bytes_sent);
    PUTS(&b, ",\"connection_termination_details\":null,\"downstream_local_address\":\"");
    put_c(&b, self->downstream_local);
    PUTS(&b, "\",\"downstream_remote_address\":\"");
    put_c(&b, self->web_ip);
    PUTS(&b, ":");
    put_i64(&b, port_remote);
    PUTS(&b, "\",\"duration\":");
    put_i64(&b, duration);
    PUTS(&b, ",\"method\":\"");
    put_ascii(&b, f[MF_METHOD]);
    PUTS(&b, "\",\"path\":");
    if (put_json_str(&b, f[MF_PATH], escape) < 0) {
        Py_DECREF(escape);
        return NULL;
    }
    PUTS(&b, ",\"protocol\":\"HTTP/1.1\",\"request_id\":\"");
    put_ascii(&b, f[MF_REQUEST_ID]);
    PUTS(&b, "\",\"requested_server_name\":null,\"response_code\":");
    put_i64(&b, code);
    PUTS(&b, ",\"response_code_details\":\"");
    put_ascii(&b, f[MF_DETAILS]);
    PUTS(&b, "\",\"response_flags\":\"");
    put_ascii(&b, f[MF_FLAGS]);
    PUTS(&b, "\",\"route_name\":\"default\",\"start_time\":\"");
    put(&b, sec, sec_len);
    put_ms(&b, ms);
    PUTS(&b, "Z");
    PUTS(&b, "\",\"upstream_cluster\":\"");
    put_c(&b, self->cluster);
    PUTS(&b, "\",\"upstream_host\":");
    if (has_host) {
        PUTS(&b, "\"");
        put_ascii(&b, f[MF_HOST]);
        PUTS(&b, "\",\"upstream_local_address\":\"");
        put_c(&b, self->web_ip);
        PUTS(&b, ":");
        put_i64(&b, port_local);
        PUTS(&b, "\"");
    } else {
        PUTS(&b, "null,\"upstream_local_address\":null");
    }
    PUTS(&b, ",\"upstream_service_time\":");
    if (f[MF_SERVICE_MS] == Py_None) {
        PUTS(&b, "null");
    } else {
        PUTS(&b, "\"");
        put_i64(&b, service_ms);
        PUTS(&b, "\"");
    }
    PUTS(&b, ",\"upstream_transport_failure_reason\":");
    if (f[MF_FAILURE] == Py_None) {
        PUTS(&b, "null");
    } else {
        PUTS(&b, "\"");
        put_ascii(&b, f[MF_FAILURE]);
        PUTS(&b, "\"");
    }
    PUTS(&b, ",\"user_agent\":");
    int esc_rc = put_json_str(&b, f[MF_AGENT], escape);
    Py_DECREF(escape);
    if (esc_rc < 0) return NULL;
    PUTS(&b, ",\"x_forwarded_for\":\"");
    put_ascii(&b, f[MF_CLIENT_IP]);
    PUTS(&b, "\"}");
    if (!b.ok) Py_RETURN_NONE; /* a value off the fast path: the renderer formats it */
    PyObject *line = PyUnicode_New(b.p - text, 127);
    if (!line) return NULL;
    memcpy(PyUnicode_DATA(line), text, (size_t)(b.p - text));
    return line;
}

static int copy_ascii(PyObject *cfg, const char *key, char *dst, size_t cap)
{
    PyObject *v = PyDict_GetItemString(cfg, key);
    if (!v || !PyUnicode_Check(v) || !PyUnicode_IS_ASCII(v) ||
        (size_t)PyUnicode_GET_LENGTH(v) >= cap) {
        PyErr_Format(PyExc_ValueError, "%s: an ASCII str shorter than %zu", key, cap);
        return -1;
    }
    memcpy(dst, PyUnicode_DATA(v), (size_t)PyUnicode_GET_LENGTH(v) + 1);
    return 0;
}

static int MeshFormatter_init(MeshFormatter *self, PyObject *args, PyObject *kw)
{
    PyObject *cfg;
    if (!PyArg_ParseTuple(args, "O!:MeshFormatter", &PyDict_Type, &cfg)) return -1;
    /* The class is set last, once its offsets are: a failed (re-)init leaves it NULL, and
     * a formatter without a class refuses every request (it could read past one). */
    Py_CLEAR(self->Request);
    Py_CLEAR(self->escape);
    PyObject *cls = get_obj(cfg, "Request");
    if (!cls) return -1;
    if (!(self->escape = get_obj(cfg, "escape")) ||
        request_offsets(cls, MF_FIELDS, MF_N, self->off) < 0 ||
        copy_ascii(cfg, "authority", self->authority, sizeof self->authority) ||
        copy_ascii(cfg, "upstream_cluster", self->cluster, sizeof self->cluster) ||
        copy_ascii(cfg, "web_ip", self->web_ip, sizeof self->web_ip) ||
        copy_ascii(cfg, "downstream_local", self->downstream_local,
                   sizeof self->downstream_local)) {
        Py_DECREF(cls);
        return -1;
    }
    self->Request = cls;
    return 0;
}

static void MeshFormatter_dealloc(MeshFormatter *self)
{
    Py_CLEAR(self->Request);
    Py_CLEAR(self->escape);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject MeshFormatterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "rca.seed._simcore.MeshFormatter",
    .tp_basicsize = sizeof(MeshFormatter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Formats the mesh renderer's access-log line (see renderers/mesh.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)MeshFormatter_init,
    .tp_dealloc = (destructor)MeshFormatter_dealloc,
    .tp_call = (ternaryfunc)MeshFormatter_call,
};

/* ------------------------------------------------------------------ nginx access lines */
/* UiFormatter(config)(request, protocol, time_local) -> str | None: the access-log line
 * of renderers/ui.py (UiRenderer.line is the reference; tests compare both). The two
 * times go through PyOS_double_to_string(x, 'f', 3), the very function behind Python's
 * f"{x:.3f}". None when a value is off the plain-ASCII fast path. */
enum {
    UF_CLIENT_IP,
    UF_METHOD,
    UF_PATH,
    UF_STATUS,
    UF_BODY_BYTES,
    UF_REFERER,
    UF_AGENT,
    UF_END,
    UF_START,
    UF_UPSTREAM,
    UF_REQUEST_ID,
    UF_N
};
static const char *UF_FIELDS[UF_N] = {"client_ip",  "method",     "path",     "status",
                                      "body_bytes", "referer",    "user_agent", "end_us",
                                      "t_us",       "upstream_us", "request_id"};

typedef struct {
    PyObject_HEAD Py_ssize_t off[UF_N];
    PyObject *Request;
} UiFormatter;

static void put_seconds(Buf *b, int64_t us)
{
    /* f"{us / 1_000_000:.3f}": int / int is the double quotient for |us| < 2**53 */
    char *text = PyOS_double_to_string((double)us / 1000000.0, 'f', 3, 0, NULL);
    if (!text) {
        PyErr_Clear();
        b->ok = 0;
        return;
    }
    put_c(b, text);
    PyMem_Free(text);
}

/* The line, or None off the fast path; the caller holds r (and proto). */
static PyObject *ui_line(UiFormatter *self, PyObject *r, PyObject *proto, const char *stamp,
                         size_t stamp_len)
{
    PyObject *f[UF_N];
    for (int i = 0; i < UF_N; i++) {
        f[i] = *(PyObject **)((char *)r + self->off[i]);
        if (!f[i]) {
            PyErr_Format(PyExc_AttributeError, "request has no %s", UF_FIELDS[i]);
            return NULL;
        }
    }
    int64_t status, body, end, start, upstream = 0;
    if (int_field(f[UF_STATUS], &status) || int_field(f[UF_BODY_BYTES], &body) ||
        int_field(f[UF_END], &end) || int_field(f[UF_START], &start) ||
        (f[UF_UPSTREAM] != Py_None && int_field(f[UF_UPSTREAM], &upstream)))
        Py_RETURN_NONE;
    int64_t big = (int64_t)1 << 53; /* beyond it, int / int is not the double quotient */
    if (end - start >= big || start - end >= big || upstream >= big || -upstream >= big)
        Py_RETURN_NONE;
    char text[8192];
    Buf b = {text, text + sizeof text, 1};
    put_ascii(&b, f[UF_CLIENT_IP]);
    PUTS(&b, " - - [");
    put(&b, stamp, stamp_len);
    PUTS(&b, "] \"");
    put_ascii(&b, f[UF_METHOD]);
    PUTS(&b, " ");
    put_ascii(&b, f[UF_PATH]);
    PUTS(&b, " ");
    put_ascii(&b, proto);
    PUTS(&b, "\" ");
    put_i64(&b, status);
    PUTS(&b, " ");
    put_i64(&b, body);
    PUTS(&b, " \"");
    put_ascii(&b, f[UF_REFERER]);
    PUTS(&b, "\" \"");
    put_ascii(&b, f[UF_AGENT]);
    PUTS(&b, "\" ");
    put_seconds(&b, end - start);
    PUTS(&b, " ");
    if (f[UF_UPSTREAM] == Py_None)
        PUTS(&b, "-");
    else
        put_seconds(&b, upstream);
    PUTS(&b, " ");
    put_ascii(&b, f[UF_REQUEST_ID]);
    if (!b.ok) Py_RETURN_NONE; /* a value off the fast path: the renderer formats it */
    return ascii_str(text, b.p - text);
}

static PyObject *UiFormatter_call(UiFormatter *self, PyObject *args, PyObject *kw)
{
    PyObject *r, *proto, *stamp;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "UiFormatter takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OUU:UiFormatter", &r, &proto, &stamp)) return NULL;
    if (Py_TYPE(r) != (PyTypeObject *)self->Request) {
        PyErr_SetString(PyExc_TypeError, "UiFormatter: a Request expected");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(stamp)) Py_RETURN_NONE;
    return ui_line(self, r, proto, (const char *)PyUnicode_DATA(stamp),
                   (size_t)PyUnicode_GET_LENGTH(stamp));
}

static int UiFormatter_init(UiFormatter *self, PyObject *args, PyObject *kw)
{
    PyObject *cls;
    if (!PyArg_ParseTuple(args, "O!:UiFormatter", &PyType_Type, &cls)) return -1;
    /* As in MeshFormatter_init: no class (every call refused) unless its offsets are set. */
    Py_CLEAR(self->Request);
    if (request_offsets(cls, UF_FIELDS, UF_N, self->off) < 0) return -1;
    self->Request = Py_NewRef(cls);
    return 0;
}

static void UiFormatter_dealloc(UiFormatter *self)
{
    Py_CLEAR(self->Request);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject UiFormatterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "rca.seed._simcore.UiFormatter",
    .tp_basicsize = sizeof(UiFormatter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Formats the ui renderer's nginx access-log line (see renderers/ui.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)UiFormatter_init,
    .tp_dealloc = (destructor)UiFormatter_dealloc,
    .tp_call = (ternaryfunc)UiFormatter_call,
};

/* ------------------------------------------------------------------ the sink */
/* Sink(file, out, sha, SignalHit[, from_us, until_us]): _sink.Sink (the reference) with
 * the same bytes, the same writes and the same signal index, kept in C. Entries stamped
 * outside [from_us, until_us) (the bundle's window) are dropped as they are added. Entries wait in an array until the
 * watermark passes them; a flush sorts them by (instant, arrival), appends their UTF-8
 * to one buffer, and writes (and hashes) that buffer every 512 entries, exactly
 * where the reference writes. The renderers' compiled request handlers below add to it
 * without a Python call. */
typedef struct {
    int64_t t, seq;
    PyObject *text, *keys, *rid;
} SinkEntry;

typedef struct {
    PyObject_HEAD PyObject *file, *out, *sha, *signals, *SignalHit;
    SinkEntry *pend;
    Py_ssize_t n, cap;
    int64_t seq;
    PyObject *chunk; /* the bytes being filled (never shared until written), or NULL */
    char *buf;       /* PyBytes_AS_STRING(chunk) */
    size_t len, bufcap;
    Py_ssize_t count; /* entries in buf */
    int writing;      /* in sha.update / out.write: a flush now would reorder writes */
    long long bytes, lines, records;
    int64_t from, until; /* the window: entries outside it are never written */
} Sink;

static PyTypeObject SinkType;
static PyObject *S_COUNT, *S_LAST_T_US, *S_UPDATE, *S_WRITE;
#define WRITE_EVERY 512 /* entries per write, as the reference */

static int sink_add(Sink *s, int64_t t, PyObject *text, PyObject *keys, PyObject *rid)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "Sink.add: text must be a str");
        return -1;
    }
    if (t < s->from || t >= s->until) return 0;
    if (s->n == s->cap) {
        Py_ssize_t cap = s->cap ? 2 * s->cap : 1024;
        SinkEntry *p = PyMem_Realloc(s->pend, (size_t)cap * sizeof *p);
        if (!p) {
            PyErr_NoMemory();
            return -1;
        }
        s->pend = p;
        s->cap = cap;
    }
    SinkEntry *e = &s->pend[s->n++];
    e->t = t;
    e->seq = ++s->seq;
    e->text = Py_NewRef(text);
    e->keys = Py_NewRef(keys);
    e->rid = Py_NewRef(rid);
    return 0;
}

static PyObject *Sink_add(Sink *s, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "Sink.add(t_us, text, keys=(), request_id=None)");
        return NULL;
    }
    long long t = PyLong_AsLongLong(args[0]);
    if (t == -1 && PyErr_Occurred()) return NULL;
    static PyObject *empty;
    if (!empty && !(empty = PyTuple_New(0))) return NULL;
    if (sink_add(s, t, args[1], nargs > 2 ? args[2] : empty, nargs > 3 ? args[3] : Py_None) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int entry_cmp(const void *a, const void *b)
{
    const SinkEntry *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static int sink_reserve(Sink *s, size_t more)
{
    if (s->chunk && s->bufcap - s->len >= more) return 0;
    size_t cap = s->bufcap ? s->bufcap : 1 << 16;
    while (cap - s->len < more) cap *= 2;
    if (cap > PY_SSIZE_T_MAX) {
        PyErr_NoMemory();
        return -1;
    }
    if (!s->chunk) {
        if (!(s->chunk = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap))) return -1;
    } else if (_PyBytes_Resize(&s->chunk, (Py_ssize_t)cap) < 0) { /* refcount 1: ours */
        s->buf = NULL;                                       /* chunk freed, NULL */
        s->len = s->bufcap = 0;
        s->count = 0;
        return -1;
    }
    s->buf = PyBytes_AS_STRING(s->chunk);
    s->bufcap = cap;
    return 0;
}

static int sink_write(Sink *s)
{
    if (!s->count) return 0;
    /* The filled bytes, no copy: a read-only view of its first len bytes goes to
     * sha.update and out.write. Anything that keeps the data (the view, a view of it, an
     * export) holds a reference to the bytes, so the sink refills it only if it is again
     * the only holder; otherwise the bytes is left to its holders, unchanged, and the next
     * entries go to a new one. Reusing it spares an allocation per write, whose page
     * faults were most of the kernel's time at high rates. */
    PyObject *full = PyMemoryView_FromObject(s->chunk);
    PyObject *view = full ? PySequence_GetSlice(full, 0, (Py_ssize_t)s->len) : NULL;
    Py_XDECREF(full);
    if (!view) return -1;
    size_t len = s->len;
    s->len = 0;
    s->count = 0;
    s->writing = 1; /* a flush from sha.update / out.write would reorder the writes */
    PyObject *r = PyObject_CallMethodOneArg(s->sha, S_UPDATE, view);
    if (r) {
        Py_DECREF(r);
        s->bytes += (long long)len;
        if (s->out != Py_None) {
            r = PyObject_CallMethodOneArg(s->out, S_WRITE, view);
            Py_XDECREF(r);
        }
    }
    s->writing = 0;
    Py_DECREF(view);
    if (s->chunk && Py_REFCNT(s->chunk) != 1) { /* kept by a consumer: theirs now */
        Py_CLEAR(s->chunk);
        s->buf = NULL;
    }
    return r ? 0 : -1;
}

/* One written entry: its line number is s->lines + 1 before the call. */
static int sink_signal(Sink *s, PyObject *key, long long line, SinkEntry *e)
{
    PyObject *hit = PyDict_GetItemWithError(s->signals, key);
    if (hit) {
        Py_INCREF(hit);
        PyObject *count = PyObject_GetAttr(hit, S_COUNT), *one = NULL, *sum = NULL,
                 *t = NULL;
        int rc = -1;
        if (count && (one = PyLong_FromLong(1)) && (sum = PyNumber_Add(count, one)) &&
            PyObject_SetAttr(hit, S_COUNT, sum) == 0 && (t = PyLong_FromLongLong(e->t)) &&
            PyObject_SetAttr(hit, S_LAST_T_US, t) == 0)
            rc = 0;
        Py_XDECREF(count);
        Py_XDECREF(one);
        Py_XDECREF(sum);
        Py_XDECREF(t);
        Py_DECREF(hit);
        return rc;
    }
    if (PyErr_Occurred()) return -1;
    Py_ssize_t nl = PyUnicode_FindChar(e->text, '\n', 0, PyUnicode_GET_LENGTH(e->text), 1);
    if (nl == -2) return -1;
    PyObject *first = nl < 0 ? Py_NewRef(e->text) : PyUnicode_Substring(e->text, 0, nl);
    PyObject *lineno = PyLong_FromLongLong(line), *t = PyLong_FromLongLong(e->t),
             *one = PyLong_FromLong(1);
    PyObject *made = NULL;
    if (first && lineno && t && one) {
        PyObject *args[7] = {key, lineno, first, t, e->rid, one, t};
        made = PyObject_Vectorcall(s->SignalHit, args, 7, NULL);
    }
    Py_XDECREF(first);
    Py_XDECREF(lineno);
    Py_XDECREF(t);
    Py_XDECREF(one);
    if (!made) return -1;
    int rc = PyDict_SetItem(s->signals, key, made);
    Py_DECREF(made);
    return rc;
}

static int sink_emit(Sink *s, SinkEntry *e)
{
    long long line = s->lines + 1;
    Py_ssize_t n;
    const char *utf8;
    if (PyUnicode_IS_ASCII(e->text)) {
        utf8 = (const char *)PyUnicode_DATA(e->text);
        n = PyUnicode_GET_LENGTH(e->text);
    } else if (!(utf8 = PyUnicode_AsUTF8AndSize(e->text, &n))) {
        return -1;
    }
    s->records++;
    s->lines++;
    for (const char *p = utf8, *end = utf8 + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        s->lines++;
    if (sink_reserve(s, (size_t)n + 1) < 0) return -1;
    memcpy(s->buf + s->len, utf8, (size_t)n);
    s->len += (size_t)n;
    s->buf[s->len++] = '\n';
    s->count++;
    if (PyTuple_CheckExact(e->keys) && PyTuple_GET_SIZE(e->keys) == 0) return 0;
    PyObject *keys = PySequence_Fast(e->keys, "Sink: keys must be a sequence");
    if (!keys) return -1;
    int rc = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(keys) && rc == 0; i++) {
        /* Held: a list of keys is the caller's own, and the Python code sink_signal runs
         * (the key's __hash__/__eq__, SignalHit) could remove the key from it. */
        PyObject *key = Py_NewRef(PySequence_Fast_GET_ITEM(keys, i));
        rc = sink_signal(s, key, line, e);
        Py_DECREF(key);
    }
    Py_DECREF(keys);
    return rc;
}

static int sink_flush(Sink *s, int64_t watermark)
{
    if (!s->signals || !s->sha || !s->SignalHit || !s->out) {
        /* Sink.__new__ without __init__, or cleared by the collector: the writes and
         * the signal index would dereference NULL. */
        PyErr_SetString(PyExc_RuntimeError, "Sink: not initialized");
        return -1;
    }
    if (s->writing) {
        PyErr_SetString(PyExc_RuntimeError, "Sink: flushed from its own write");
        return -1;
    }
    Py_ssize_t n = s->n, cut = 0;
    for (Py_ssize_t i = 1; i < n; i++)
        if (entry_cmp(&s->pend[i - 1], &s->pend[i]) > 0) {
            qsort(s->pend, (size_t)n, sizeof *s->pend, entry_cmp);
            break;
        }
    while (cut < n && s->pend[cut].t < watermark) cut++;
    if (cut) {
        /* Taken out first: the signal index runs Python code (SignalHit's __init__). */
        SinkEntry *ready = PyMem_Malloc((size_t)cut * sizeof *ready);
        if (!ready) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(ready, s->pend, (size_t)cut * sizeof *ready);
        memmove(s->pend, s->pend + cut, (size_t)(n - cut) * sizeof *s->pend);
        s->n -= cut;
        int rc = 0;
        for (Py_ssize_t i = 0; i < cut; i++) {
            if (rc == 0) rc = sink_emit(s, &ready[i]);
            /* Written every WRITE_EVERY entries: buffers of the same size whatever the
             * rate, small enough to stay in cache while they are hashed and copied. */
            if (rc == 0 && s->count >= WRITE_EVERY) rc = sink_write(s);
            Py_DECREF(ready[i].text);
            Py_DECREF(ready[i].keys);
            Py_DECREF(ready[i].rid);
        }
        PyMem_Free(ready);
        if (rc < 0) return -1;
    }
    return 0;
}

static PyObject *Sink_flush_before(Sink *s, PyObject *arg)
{
    long long w = PyLong_AsLongLong(arg);
    if (w == -1 && PyErr_Occurred()) return NULL;
    if (sink_flush(s, w) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Sink_close(Sink *s, PyObject *Py_UNUSED(ignored))
{
    if (sink_flush(s, (int64_t)1 << 62) < 0 || sink_write(s) < 0) return NULL;
    Py_RETURN_NONE;
}

static int Sink_init(Sink *s, PyObject *args, PyObject *kw)
{
    PyObject *file, *out, *sha, *hit;
    long long from = INT64_MIN, until = INT64_MAX;
    static char *names[] = {"file", "out", "sha", "SignalHit", "from_us", "until_us", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "UOOO|LL:Sink", names, &file, &out, &sha, &hit,
                                     &from, &until))
        return -1;
    if (s->n || s->count || s->records) {
        PyErr_SetString(PyExc_RuntimeError, "Sink: already in use");
        return -1;
    }
    PyObject *signals = PyDict_New();
    if (!signals) return -1;
    Py_XSETREF(s->file, Py_NewRef(file));
    Py_XSETREF(s->out, Py_NewRef(out));
    Py_XSETREF(s->sha, Py_NewRef(sha));
    Py_XSETREF(s->SignalHit, Py_NewRef(hit));
    Py_XSETREF(s->signals, signals);
    s->from = from;
    s->until = until;
    return 0;
}

/* The references a sink owns besides its pending entries: traverse and clear walk this
 * one list, so they cannot drift apart (as CORE_OBJECTS). */
#define SINK_OBJECTS(s) {&(s)->file, &(s)->out, &(s)->sha, &(s)->signals, &(s)->SignalHit}
#define N_SLOTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int Sink_traverse(Sink *s, visitproc visit, void *arg)
{
    PyObject **owned[] = SINK_OBJECTS(s);
    for (int k = 0; k < N_SLOTS(owned); k++) Py_VISIT(*owned[k]);
    for (Py_ssize_t i = 0; i < s->n; i++) {
        Py_VISIT(s->pend[i].text);
        Py_VISIT(s->pend[i].keys);
        Py_VISIT(s->pend[i].rid);
    }
    return 0;
}

static int Sink_clear(Sink *s)
{
    PyObject **owned[] = SINK_OBJECTS(s);
    for (int k = 0; k < N_SLOTS(owned); k++) Py_CLEAR(*owned[k]);
    Py_ssize_t n = s->n;
    s->n = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_CLEAR(s->pend[i].text);
        Py_CLEAR(s->pend[i].keys);
        Py_CLEAR(s->pend[i].rid);
    }
    return 0;
}

static void Sink_dealloc(Sink *s)
{
    PyObject_GC_UnTrack(s);
    Sink_clear(s);
    PyMem_Free(s->pend);
    Py_CLEAR(s->chunk);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef Sink_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Sink_add, METH_FASTCALL,
     "add(t_us, text, keys=(), request_id=None): queue one entry."},
    {"flush_before", (PyCFunction)Sink_flush_before, METH_O,
     "flush_before(watermark_us): write out every entry older than the watermark."},
    {"close", (PyCFunction)Sink_close, METH_NOARGS, "Write out everything left."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef Sink_members[] = {
    {"file", T_OBJECT, offsetof(Sink, file), READONLY, NULL},
    {"sha", T_OBJECT, offsetof(Sink, sha), READONLY, NULL},
    {"signals", T_OBJECT, offsetof(Sink, signals), READONLY, NULL},
    {"bytes", T_LONGLONG, offsetof(Sink, bytes), READONLY, NULL},
    {"lines", T_LONGLONG, offsetof(Sink, lines), READONLY, NULL},
    {"records", T_LONGLONG, offsetof(Sink, records), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject SinkType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "rca.seed._simcore.Sink",
    .tp_basicsize = sizeof(Sink),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One log file's time-ordered output (see _sink.py for the reference).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sink_init,
    .tp_traverse = (traverseproc)Sink_traverse,
    .tp_clear = (inquiry)Sink_clear,
    .tp_dealloc = (destructor)Sink_dealloc,
    .tp_methods = Sink_methods,
    .tp_members = Sink_members,
};

/* ------------------------------------------------------------------ request handlers */
/* RequestHandler(stream, config).request(r): a renderer's request() for the busiest
 * streams (ui, mesh, api), compiled. It makes the renderer's draws from its own
 * generator in the same order, formats with the formatters above, computes the same
 * signal keys, and adds to the compiled Sink. Whatever it does not handle it passes,
 * before drawing anything, to the renderer's Python code (its `fallback`): scanner
 * requests, failed attempts, values off the fast path. The Python request() methods stay
 * the reference; the determinism tests compare whole bundles of both. */
enum { H_UI, H_MESH, H_API };
enum {
    RH_KIND,
    RH_END,
    RH_STATUS,
    RH_UPSTREAM,
    RH_EXEMPLAR,
    RH_REQUEST_ID,
    RH_MESH_START,
    RH_MESH_END,
    RH_MESH_CODE,
    RH_MESH_FLAGS,
    RH_HOST,
    RH_ATTEMPTS,
    RH_N_,
    RH_TRACE_ID,
    RH_METHOD,
    RH_PATH,
    RH_N
};
static const char *RH_FIELDS[RH_N] = {
    "kind",          "end_us",      "status",      "upstream_us", "exemplar",   "request_id",
    "mesh_start_us", "mesh_end_us", "mesh_code",   "mesh_flags",  "upstream_host",
    "attempts",      "n",           "trace_id",    "method",      "path"};
enum { AH_POD, AH_START, AH_END, AH_STATUS, AH_OUTCOME, AH_N };
static const char *AH_FIELDS[AH_N] = {"pod", "start_us", "end_us", "status", "outcome"};

typedef struct {
    int64_t sec;
    size_t len;
    char text[48];
} SecText;

typedef struct {
    PyObject_HEAD int stream;
    PyObject *Request, *Attempt, *random, *fallback, *line, *formatter, *threads, *logger,
        *app;
    PyObject *sink; /* a Sink (checked in __init__) */
    Py_ssize_t off[RH_N], aoff[AH_N];
    Py_ssize_t fixed_len; /* api: app twice, the longest thread, the logger */
    uint64_t ids_keyed[8];
    SecText sec;
    int busy; /* requests in progress: __init__ refused meanwhile (it clears every slot) */
} RequestHandler;

static PyObject *S_SCANNER, *S_API, *S_HTTP11, *S_HTTP20, *S_NAME, *S_UI_SLOW, *S_MESH_SLOW,
    *S_MESH_RETRIED, *S_API_5XX, *S_API_SLOW;

/* The second's text in the handler's style, cached; -1 when not 1970..9999. */
static int sec_text(RequestHandler *h, int64_t sec)
{
    static const char *months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (sec == h->sec.sec) return 0;
    if (sec < 0 || sec > 253402300799LL) return -1; /* 9999-12-31T23:59:59 */
    time_t tt = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) return -1;
    int n;
    if (h->stream == H_UI) /* tf.nginx_access */
        n = snprintf(h->sec.text, sizeof h->sec.text, "%02d/%s/%d:%02d:%02d:%02d +0000",
                     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    else /* tf.iso_seconds */
        n = snprintf(h->sec.text, sizeof h->sec.text, "%04d-%02d-%02dT%02d:%02d:%02d",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    if (n < 0 || (size_t)n >= sizeof h->sec.text) return -1;
    h->sec.len = (size_t)n;
    h->sec.sec = sec;
    return 0;
}

static int draw(RequestHandler *h, double *x)
{
    PyObject *v = PyObject_CallNoArgs(h->random);
    if (!v) return -1;
    *x = PyFloat_AsDouble(v);
    Py_DECREF(v);
    if (*x == -1.0 && PyErr_Occurred()) return -1;
    if (!(*x >= 0.0 && *x < 1.0)) { /* NaN too: the casts of x * n would be undefined */
        PyErr_SetString(PyExc_ValueError, "random() returned a value outside [0, 1)");
        return -1;
    }
    return 0;
}

static inline PyObject *rfield(RequestHandler *h, PyObject *r, int i)
{
    return *(PyObject **)((char *)r + h->off[i]);
}

static int is_ascii_str(PyObject *v) { return v && PyUnicode_Check(v) && PyUnicode_IS_ASCII(v); }

/* keys + (f"exemplar.{x}.{stream}",) when the request is an exemplar; steals `keys`. */
static PyObject *with_exemplar(PyObject *keys, PyObject *exemplar, const char *stream)
{
    if (!keys) return NULL;
    if (!exemplar) { /* a fallback deleted the slot */
        PyErr_SetString(PyExc_AttributeError, "request has no exemplar");
        Py_DECREF(keys);
        return NULL;
    }
    /* Held: __bool__ runs Python code, which could set the request's exemplar and free
     * this one before str() below. */
    Py_INCREF(exemplar);
    int yes = PyObject_IsTrue(exemplar);
    if (yes <= 0) {
        Py_DECREF(exemplar);
        if (yes < 0) Py_CLEAR(keys);
        return keys;
    }
    PyObject *key = PyUnicode_FromFormat("exemplar.%S.%s", exemplar, stream);
    Py_DECREF(exemplar);
    PyObject *one = key ? PyTuple_Pack(1, key) : NULL;
    PyObject *all = one ? PySequence_Concat(keys, one) : NULL;
    Py_XDECREF(key);
    Py_XDECREF(one);
    Py_DECREF(keys);
    return all;
}

static PyObject *call_fallback(RequestHandler *h, PyObject *r)
{
    PyObject *v = PyObject_CallOneArg(h->fallback, r);
    if (!v) return NULL;
    Py_DECREF(v);
    Py_RETURN_NONE;
}

/* Adds (t, line, keys, request_id) and drops the references to line and keys. */
static PyObject *add_line(RequestHandler *h, int64_t t, PyObject *line, PyObject *keys,
                          PyObject *rid)
{
    if (!rid && line && keys) PyErr_SetString(PyExc_AttributeError, "request has no request_id");
    int rc = (line && keys && rid) ? sink_add((Sink *)h->sink, t, line, keys, rid) : -1;
    Py_XDECREF(line);
    Py_XDECREF(keys);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *ui_request(RequestHandler *h, PyObject *r)
{
    PyObject *kind = rfield(h, r, RH_KIND);
    int64_t end, status, upstream = 0;
    PyObject *up = rfield(h, r, RH_UPSTREAM);
    if (!kind || !up || PyUnicode_Check(kind) == 0 ||
        PyUnicode_Compare(kind, S_SCANNER) == 0 || int_field(rfield(h, r, RH_END), &end) ||
        int_field(rfield(h, r, RH_STATUS), &status) ||
        (up != Py_None && int_field(up, &upstream)) || sec_text(h, floordiv(end, 1000000)) ||
        !rfield(h, r, RH_EXEMPLAR) || !rfield(h, r, RH_REQUEST_ID)) {
        if (PyErr_Occurred()) return NULL;
        return call_fallback(h, r); /* scanners and odd values: UiRenderer.request */
    }
    double x;
    if (draw(h, &x) < 0) return NULL;
    PyObject *proto = x < 0.25 ? S_HTTP11 : S_HTTP20;
    /* The formatter reads r at its own class's offsets: it may have been re-initialized
     * for another class since (from Python, or by the draw above). */
    if (((UiFormatter *)h->formatter)->Request != h->Request) {
        PyErr_SetString(PyExc_TypeError, "formatter: configured for another class");
        return NULL;
    }
    Py_INCREF(r);
    PyObject *line =
        ui_line((UiFormatter *)h->formatter, r, proto, h->sec.text, h->sec.len);
    if (line == Py_None) {
        Py_DECREF(line);
        PyObject *stamp = ascii_str(h->sec.text, (Py_ssize_t)h->sec.len);
        line = stamp ? PyObject_CallFunctionObjArgs(h->line, r, proto, stamp, NULL) : NULL;
        Py_XDECREF(stamp);
    }
    if (!line) { /* not on to the keys (and their Python code) with an exception set */
        Py_DECREF(r);
        return NULL;
    }
    PyObject *keys;
    if (status >= 500) {
        PyObject *key = PyUnicode_FromFormat("ui.%lld", (long long)status);
        keys = with_exemplar(key ? PyTuple_Pack(1, key) : NULL, rfield(h, r, RH_EXEMPLAR),
                             "ui");
        Py_XDECREF(key);
    } else if (up != Py_None && upstream > 2000000) {
        keys = with_exemplar(PyTuple_Pack(1, S_UI_SLOW), rfield(h, r, RH_EXEMPLAR), "ui");
    } else {
        keys = PyTuple_New(0);
    }
    PyObject *res = add_line(h, end, line, keys, rfield(h, r, RH_REQUEST_ID));
    Py_DECREF(r);
    return res;
}

static PyObject *mesh_request(RequestHandler *h, PyObject *r)
{
    PyObject *kind = rfield(h, r, RH_KIND);
    if (kind && PyUnicode_Check(kind) && PyUnicode_Compare(kind, S_API) != 0) Py_RETURN_NONE;
    int64_t start, end, code;
    PyObject *host = rfield(h, r, RH_HOST), *flags = rfield(h, r, RH_MESH_FLAGS);
    if (!kind || !PyUnicode_Check(kind) || int_field(rfield(h, r, RH_MESH_START), &start) ||
        int_field(rfield(h, r, RH_MESH_END), &end) ||
        int_field(rfield(h, r, RH_MESH_CODE), &code) || !host || !flags ||
        !rfield(h, r, RH_ATTEMPTS) || !rfield(h, r, RH_EXEMPLAR) ||
        !rfield(h, r, RH_REQUEST_ID) || sec_text(h, floordiv(start, 1000000)))
        return call_fallback(h, r); /* MeshRenderer.request */
    /* Held: the draws, the line's escape and the fallback line() run Python code, which
     * could set r.mesh_flags and free the value read above before the key uses it. */
    Py_INCREF(flags);
    double x = 0.0, y;
    if ((host != Py_None && draw(h, &x) < 0) || draw(h, &y) < 0) {
        Py_DECREF(flags);
        return NULL;
    }
    long long local = host == Py_None ? 0 : 33000 + (long long)(x * 28000);
    long long remote = 33000 + (long long)(y * 28000);
    MeshFormatter *fmt = (MeshFormatter *)h->formatter;
    if (fmt->Request != h->Request) { /* re-initialized since: its offsets are another's */
        PyErr_SetString(PyExc_TypeError, "formatter: configured for another class");
        Py_DECREF(flags);
        return NULL;
    }
    Py_INCREF(r);
    PyObject *f[MF_N], *line = NULL;
    int have = 1;
    for (int i = 0; i < MF_N; i++)
        if (!(f[i] = *(PyObject **)((char *)r + fmt->off[i]))) have = 0;
    if (have) {
        for (int i = 0; i < MF_N; i++) Py_INCREF(f[i]);
        line = mesh_line(fmt, f, local, remote, h->sec.text, h->sec.len);
        for (int i = 0; i < MF_N; i++) Py_DECREF(f[i]);
    } else {
        line = Py_NewRef(Py_None);
    }
    if (line == Py_None) {
        Py_DECREF(line);
        PyObject *sec = ascii_str(h->sec.text, (Py_ssize_t)h->sec.len);
        PyObject *a = PyLong_FromLongLong(local), *b = PyLong_FromLongLong(remote);
        line = sec && a && b ? PyObject_CallFunctionObjArgs(h->line, r, a, b, sec, NULL) : NULL;
        Py_XDECREF(sec);
        Py_XDECREF(a);
        Py_XDECREF(b);
    }
    if (!line) { /* not on to the keys (and their Python code) with an exception set */
        Py_DECREF(flags);
        Py_DECREF(r);
        return NULL;
    }
    PyObject *keys = NULL;
    if (code >= 500) {
        PyObject *key = PyUnicode_FromFormat("mesh.%lld.%S", (long long)code, flags);
        keys = key ? PyTuple_Pack(1, key) : NULL;
        Py_XDECREF(key);
    } else if (end - start >= 2001000) { /* duration > 2000 ms */
        keys = PyTuple_Pack(1, S_MESH_SLOW);
    }
    if (keys) {
        Py_ssize_t tries = PyObject_Length(rfield(h, r, RH_ATTEMPTS));
        if (tries < 0) {
            Py_CLEAR(keys);
        } else if (tries > 1) {
            PyObject *more = PyTuple_Pack(1, S_MESH_RETRIED);
            PyObject *all = more ? PySequence_Concat(keys, more) : NULL;
            Py_XDECREF(more);
            Py_SETREF(keys, all);
        }
        keys = with_exemplar(keys, rfield(h, r, RH_EXEMPLAR), "mesh");
    } else if (!PyErr_Occurred()) {
        keys = PyTuple_New(0);
    }
    Py_DECREF(flags);
    PyObject *res = add_line(h, end, line, keys, rfield(h, r, RH_REQUEST_ID));
    Py_DECREF(r);
    return res;
}

/* The access line of an attempt that succeeded (ApiRenderer._attempt with outcome "ok"):
 * 1 when added, 0 when off the fast path (nothing drawn: the caller runs the fallback),
 * -1 on error. */
static int api_ok(RequestHandler *h, PyObject *r, Py_ssize_t i, PyObject *a)
{
    PyObject *af[AH_N];
    for (int k = 0; k < AH_N; k++)
        if (!(af[k] = *(PyObject **)((char *)a + h->aoff[k]))) return 0;
    int64_t start, end, status, n;
    PyObject *trace = rfield(h, r, RH_TRACE_ID), *rid = rfield(h, r, RH_REQUEST_ID),
             *method = rfield(h, r, RH_METHOD), *path = rfield(h, r, RH_PATH),
             *exemplar = rfield(h, r, RH_EXEMPLAR);
    if (int_field(af[AH_START], &start) || int_field(af[AH_END], &end) ||
        int_field(af[AH_STATUS], &status) || int_field(rfield(h, r, RH_N_), &n) ||
        n >= ((int64_t)1 << 58) || n < 0 || !is_ascii_str(trace) || !is_ascii_str(rid) ||
        !is_ascii_str(method) || !is_ascii_str(path) || !exemplar ||
        sec_text(h, floordiv(end, 1000000)))
        return 0;
    /* Held from here: the pod's name lookup and the draw run Python code, which could set
     * the request's fields and free the values read above (and measured for the room). */
    PyObject *held[] = {trace, rid, method, path, exemplar};
    for (int k = 0; k < 5; k++) Py_INCREF(held[k]);
    int rc = -1;
    PyObject *name = PyObject_GetAttr(af[AH_POD], S_NAME);
    if (!name) goto done;
    /* Everything but the numbers, whose room is reserved, must fit the buffer. */
    Py_ssize_t room = 256 + h->fixed_len;
    PyObject *texts[] = {name, trace, rid, method, path};
    for (int k = 0; k < 5; k++) room += is_ascii_str(texts[k]) ? PyUnicode_GET_LENGTH(texts[k]) : 1 << 20;
    if (room > 16000) {
        Py_DECREF(name);
        rc = 0;
        goto done;
    }
    double x;
    if (draw(h, &x) < 0) {
        Py_DECREF(name);
        goto done;
    }
    Py_ssize_t nthreads = PyTuple_GET_SIZE(h->threads);
    double pos = x * (double)nthreads;
    if (!(pos >= 0.0 && pos < (double)nthreads)) { /* random() outside [0, 1) (or NaN) */
        Py_DECREF(name);
        PyErr_SetString(PyExc_ValueError, "api: random() returned a value outside [0, 1)");
        goto done;
    }
    PyObject *thread = PyTuple_GET_ITEM(h->threads, (Py_ssize_t)pos);
    char span[17];
    b2b_id_hex(h->ids_keyed, "span", n * 8 + i, 8, span);
    span[16] = 0;
    int64_t elapsed = floordiv(end - start, 1000);
    char text[16384];
    Buf b = {text, text + sizeof text, 1};
    PUTS(&b, "[pod/");
    put_ascii(&b, name);
    PUTS(&b, "/");
    put_ascii(&b, h->app);
    PUTS(&b, "] ");
    put(&b, h->sec.text, h->sec.len);
    put_ms(&b, floordiv(end - floordiv(end, 1000000) * 1000000, 1000));
    PUTS(&b, "Z");
    PUTS(&b, "  INFO 1 --- [");
    put_ascii(&b, h->app);
    PUTS(&b, "] [");
    put_ascii(&b, thread);
    PUTS(&b, "] [");
    put_ascii(&b, trace);
    PUTS(&b, ",");
    put(&b, span, 16);
    PUTS(&b, ",");
    put_ascii(&b, rid);
    PUTS(&b, "] ");
    put_ascii(&b, h->logger);
    PUTS(&b, " : ");
    put_ascii(&b, method);
    PUTS(&b, " ");
    put_ascii(&b, path);
    PUTS(&b, " -> ");
    put_i64(&b, status);
    PUTS(&b, " in ");
    put_i64(&b, elapsed);
    PUTS(&b, " ms");
    Py_DECREF(name);
    if (!b.ok) { /* cannot happen: the room was counted before the draw */
        PyErr_SetString(PyExc_SystemError, "api access line overflowed its buffer");
        goto done;
    }
    PyObject *line = ascii_str(text, b.p - text);
    if (!line) goto done; /* not on to the keys (and their Python code) with an error set */
    PyObject *keys;
    if (status >= 500)
        keys = with_exemplar(PyTuple_Pack(1, S_API_5XX), exemplar, "api");
    else if (elapsed >= 2000)
        keys = with_exemplar(PyTuple_Pack(1, S_API_SLOW), exemplar, "api");
    else
        keys = with_exemplar(PyTuple_New(0), exemplar, "api");
    PyObject *added = add_line(h, end, line, keys, rid);
    Py_XDECREF(added);
    rc = added ? 1 : -1;
done:
    for (int k = 0; k < 5; k++) Py_DECREF(held[k]);
    return rc;
}

static PyObject *api_request(RequestHandler *h, PyObject *r)
{
    PyObject *kind = rfield(h, r, RH_KIND), *attempts = rfield(h, r, RH_ATTEMPTS);
    if (!kind || !attempts) {
        PyErr_SetString(PyExc_AttributeError, "request has no kind or attempts");
        return NULL;
    }
    if (!PyUnicode_Check(kind) || PyUnicode_Compare(kind, S_API) != 0) Py_RETURN_NONE;
    Py_INCREF(r);
    PyObject *seq = PySequence_Fast(attempts, "attempts must be a sequence");
    PyObject *res = seq ? Py_None : NULL;
    for (Py_ssize_t i = 0; res && i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *a = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        PyObject *outcome = Py_TYPE(a) == (PyTypeObject *)h->Attempt
                                ? *(PyObject **)((char *)a + h->aoff[AH_OUTCOME])
                                : NULL;
        int ok = outcome && PyUnicode_Check(outcome) &&
                 PyUnicode_Compare(outcome, S_OUTCOME[O_OK]) == 0;
        if (outcome && PyUnicode_Check(outcome) &&
            (PyUnicode_Compare(outcome, S_OUTCOME[O_KILLED]) == 0 ||
             PyUnicode_Compare(outcome, S_OUTCOME[O_REFUSED]) == 0)) {
            Py_DECREF(a);
            continue;
        }
        int done = ok ? api_ok(h, r, i, a) : 0;
        if (done < 0) res = NULL;
        if (done == 0) { /* ApiRenderer._attempt(r, i, a) */
            PyObject *idx = PyLong_FromSsize_t(i);
            PyObject *v = idx ? PyObject_CallFunctionObjArgs(h->fallback, r, idx, a, NULL) : NULL;
            Py_XDECREF(idx);
            if (!v) res = NULL;
            Py_XDECREF(v);
        }
        Py_DECREF(a);
    }
    Py_XDECREF(seq);
    Py_DECREF(r);
    return res ? Py_NewRef(res) : NULL;
}

static PyObject *RequestHandler_request(RequestHandler *h, PyObject *r)
{
    if (!h->Request || Py_TYPE(r) != (PyTypeObject *)h->Request) {
        PyErr_SetString(PyExc_TypeError, "RequestHandler: a Request expected");
        return NULL;
    }
    /* Counted: the Python code a request runs could call __init__ again, which clears
     * the slots (and may change the class and offsets) this request still uses. */
    h->busy++;
    PyObject *res = h->stream == H_UI     ? ui_request(h, r)
                    : h->stream == H_MESH ? mesh_request(h, r)
                                          : api_request(h, r);
    h->busy--;
    return res;
}

/* Every reference a handler owns, walked by both traverse and clear (as SINK_OBJECTS). */
#define HANDLER_OBJECTS(h)                                                                 \
    {&(h)->Request, &(h)->Attempt, &(h)->random,  &(h)->fallback, &(h)->line,              \
     &(h)->formatter, &(h)->threads, &(h)->logger, &(h)->app,     &(h)->sink}

static int RequestHandler_clear(RequestHandler *h)
{
    PyObject **owned[] = HANDLER_OBJECTS(h);
    for (int k = 0; k < N_SLOTS(owned); k++) Py_CLEAR(*owned[k]);
    return 0;
}

static int RequestHandler_traverse(RequestHandler *h, visitproc visit, void *arg)
{
    PyObject **owned[] = HANDLER_OBJECTS(h);
    for (int k = 0; k < N_SLOTS(owned); k++) Py_VISIT(*owned[k]);
    return 0;
}

/* The config value under key, of the given type (NULL: any), as a new reference. */
static PyObject *get_typed(PyObject *cfg, const char *key, PyTypeObject *type)
{
    PyObject *v = get_obj(cfg, key);
    if (v && type && !PyObject_TypeCheck(v, type)) {
        PyErr_Format(PyExc_TypeError, "%s: a %s expected", key, type->tp_name);
        Py_CLEAR(v);
    }
    return v;
}

static int RequestHandler_init(RequestHandler *h, PyObject *args, PyObject *kw)
{
    const char *stream;
    PyObject *cfg;
    if (!PyArg_ParseTuple(args, "sO!:RequestHandler", &stream, &PyDict_Type, &cfg)) return -1;
    if (h->busy) {
        PyErr_SetString(PyExc_RuntimeError, "RequestHandler: re-initialized during a request");
        return -1;
    }
    RequestHandler_clear(h); /* the class last: a failed (re-)init refuses every request */
    int which = !strcmp(stream, "ui") ? H_UI : !strcmp(stream, "mesh") ? H_MESH
                : !strcmp(stream, "api")                                ? H_API
                                                                        : -1;
    if (which < 0) {
        PyErr_Format(PyExc_ValueError, "stream %s: one of ui, mesh, api expected", stream);
        return -1;
    }
    h->stream = which;
    h->sec.sec = INT64_MIN;
    PyObject *cls = get_typed(cfg, "Request", &PyType_Type);
    if (!cls || request_offsets(cls, RH_FIELDS, RH_N, h->off) < 0 ||
        !(h->random = get_obj(cfg, "random")) || !(h->fallback = get_obj(cfg, "fallback")) ||
        !(h->sink = get_typed(cfg, "sink", &SinkType)))
        goto fail;
    if (which == H_UI || which == H_MESH) {
        PyTypeObject *ft = which == H_UI ? &UiFormatterType : &MeshFormatterType;
        if (!(h->line = get_obj(cfg, "line")) || !(h->formatter = get_typed(cfg, "formatter", ft)))
            goto fail;
        PyObject *fcls = which == H_UI ? ((UiFormatter *)h->formatter)->Request
                                       : ((MeshFormatter *)h->formatter)->Request;
        if (fcls != cls) {
            PyErr_SetString(PyExc_TypeError, "formatter: configured for another class");
            goto fail;
        }
    } else {
        PyObject *key = NULL;
        if (!(h->Attempt = get_typed(cfg, "Attempt", &PyType_Type)) ||
            request_offsets(h->Attempt, AH_FIELDS, AH_N, h->aoff) < 0 ||
            !(h->threads = get_typed(cfg, "threads", &PyTuple_Type)) ||
            !(h->logger = get_typed(cfg, "logger", &PyUnicode_Type)) ||
            !(h->app = get_typed(cfg, "app", &PyUnicode_Type)) ||
            !(key = get_typed(cfg, "ids_key", &PyBytes_Type)))
            goto fail;
        Py_ssize_t nt = PyTuple_GET_SIZE(h->threads);
        /* An empty key is refused, as in Core_init: b2b_keyed always absorbs a key block,
         * which BLAKE2b does only for a non-empty key (other span ids than hashlib's). */
        int good = nt > 0 && PyBytes_GET_SIZE(key) >= 1 && PyBytes_GET_SIZE(key) <= 64 &&
                   is_ascii_str(h->logger) && is_ascii_str(h->app);
        h->fixed_len = good ? 2 * PyUnicode_GET_LENGTH(h->app) + PyUnicode_GET_LENGTH(h->logger) : 0;
        for (Py_ssize_t i = 0; good && i < nt; i++) {
            PyObject *t = PyTuple_GET_ITEM(h->threads, i);
            good = is_ascii_str(t) && PyUnicode_GET_LENGTH(t) < 256;
        }
        h->fixed_len += 256;
        if (!good) {
            Py_DECREF(key);
            PyErr_SetString(PyExc_ValueError,
                            "api: threads (ASCII str), logger, app (ASCII), ids_key (1-64 bytes)");
            goto fail;
        }
        b2b_keyed(h->ids_keyed, (const uint8_t *)PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key),
                  8);
        Py_DECREF(key);
    }
    h->Request = cls;
    return 0;
fail:
    Py_XDECREF(cls);
    RequestHandler_clear(h);
    return -1;
}

static void RequestHandler_dealloc(RequestHandler *h)
{
    PyObject_GC_UnTrack(h);
    RequestHandler_clear(h);
    Py_TYPE(h)->tp_free((PyObject *)h);
}

static PyMethodDef RequestHandler_methods[] = {
    {"request", (PyCFunction)RequestHandler_request, METH_O,
     "request(r): render one finished request into the sink."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject RequestHandlerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "rca.seed._simcore.RequestHandler",
    .tp_basicsize = sizeof(RequestHandler),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A renderer's request(), compiled (see renderers/ui.py, mesh.py, api.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)RequestHandler_init,
    .tp_traverse = (traverseproc)RequestHandler_traverse,
    .tp_clear = (inquiry)RequestHandler_clear,
    .tp_dealloc = (destructor)RequestHandler_dealloc,
    .tp_methods = RequestHandler_methods,
};

static struct PyModuleDef simcore_module = {
    PyModuleDef_HEAD_INIT, "_simcore",
    "The shared simulation's main loop, compiled (see _sim.py for the reference).", -1, NULL};

PyMODINIT_FUNC PyInit__simcore(void)
{
    for (int i = 0; i < O_COUNT; i++)
        if (!(S_OUTCOME[i] = PyUnicode_InternFromString(OUTCOME_NAMES[i]))) return NULL;
    for (int i = 0; i < X_COUNT; i++)
        if (!(S_EXEMPLAR[i] = PyUnicode_InternFromString(EXEMPLAR_NAMES[i]))) return NULL;
    for (int i = 0; i < P_COUNT; i++)
        if (!(S_PARAM[i] = PyUnicode_InternFromString(PARAM_NAMES[i]))) return NULL;
    struct {
        PyObject **slot;
        const char *text;
    } interned[] = {{&S_COUNT, "count"},          {&S_LAST_T_US, "last_t_us"},
                    {&S_UPDATE, "update"},        {&S_WRITE, "write"},
                    {&S_SCANNER, "scanner"},      {&S_API, "api"},
                    {&S_HTTP11, "HTTP/1.1"},      {&S_HTTP20, "HTTP/2.0"},
                    {&S_NAME, "name"},            {&S_UI_SLOW, "ui.slow"},
                    {&S_MESH_SLOW, "mesh.slow"},  {&S_MESH_RETRIED, "mesh.retried"},
                    {&S_API_5XX, "api.access_5xx"}, {&S_API_SLOW, "api.slow_request"}};
    for (size_t i = 0; i < sizeof interned / sizeof interned[0]; i++)
        if (!(*interned[i].slot = PyUnicode_InternFromString(interned[i].text))) return NULL;
    if (PyType_Ready(&CoreType) < 0 || PyType_Ready(&MeshFormatterType) < 0 ||
        PyType_Ready(&UiFormatterType) < 0 || PyType_Ready(&SinkType) < 0 ||
        PyType_Ready(&RequestHandlerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&simcore_module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Core", (PyObject *)&CoreType) < 0 ||
        PyModule_AddObjectRef(m, "MeshFormatter", (PyObject *)&MeshFormatterType) < 0 ||
        PyModule_AddObjectRef(m, "UiFormatter", (PyObject *)&UiFormatterType) < 0 ||
        PyModule_AddObjectRef(m, "Sink", (PyObject *)&SinkType) < 0 ||
        PyModule_AddObjectRef(m, "RequestHandler", (PyObject *)&RequestHandlerType) < 0 ||
        PyModule_AddIntConstant(m, "FACT", K_FACT) < 0 ||
        PyModule_AddIntConstant(m, "PROBE", K_PROBE) < 0 ||
        PyModule_AddIntConstant(m, "SCANNER", K_SCANNER) < 0 ||
        PyModule_AddIntConstant(m, "ABI", 1) < 0 ||
        PyModule_AddStringConstant(m, "SOURCE_SHA256", SIMCORE_SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
