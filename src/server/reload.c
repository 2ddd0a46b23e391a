/* reload.c - reading the base graph files, at start-up and on reload.
 *
 * The graph files are the base; the data directory holds the client
 * changes made since (kg/journal.h). A reload reads the files into NEW
 * graphs in a worker thread while the old graph keeps serving; when the
 * worker is done the main thread replays the journal on top (it owns the
 * journal, and so sees every write accepted during the reload) and swaps
 * the graphs. A broken file keeps the old graph.
 */
#include "server_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kg/io.h"
#include "kg/query.h"

kg_reload_job *kg_reload_job_new(const kg_server_config *cfg, bool keep_base)
{
    kg_reload_job *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->done_fd = -1;
    job->keep_base = keep_base;
    size_t n = cfg->n_graphs ? cfg->n_graphs : 1;
    job->paths = calloc(n, sizeof *job->paths);
    if (!job->paths) {
        free(job);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *p = cfg->n_graphs ? cfg->graphs[i] : kg_server_default_graph();
        if (!(job->paths[i] = strdup(p))) {
            kg_reload_job_destroy(&job);
            return NULL;
        }
        job->n_paths++;
    }
    return job;
}

void kg_reload_job_destroy(kg_reload_job **jp)
{
    if (!jp || !*jp)
        return;
    kg_reload_job *job = *jp;
    for (size_t i = 0; i < job->n_paths; i++)
        free(job->paths[i]);
    free(job->paths);
    kg_graph_destroy(&job->base);
    kg_graph_destroy(&job->served);
    free(job);
    *jp = NULL;
}

/* Each file is parsed once and its batch applied to both graphs, so that
 * the base and the served graph are built the same way. */
void kg_reload_run(kg_reload_job *job)
{
    uint64_t t0 = kg_query_clock_ns();
    kg_batch *b = kg_batch_new();
    job->served = kg_graph_new();
    if (job->keep_base)
        job->base = kg_graph_new();
    job->rc = 0;
    kg_error_clear(&job->err);
    if (!b || !job->served || (job->keep_base && !job->base)) {
        job->rc = kg_error_set(&job->err, KG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < job->n_paths && !job->rc; i++) {
        kg_batch_clear(b);
        job->rc = kg_read_file(job->paths[i], KG_FORMAT_AUTO, b, &job->err);
        if (!job->rc)
            job->rc = kg_graph_apply(job->served, b, &job->err);
        if (!job->rc && job->base)
            job->rc = kg_graph_apply(job->base, b, &job->err);
    }
    if (!job->rc) {
        kg_error ferr;
        job->fingerprint = kg_fingerprint_files(
            (const char *const *)job->paths, job->n_paths, &ferr);
    }
out:
    if (job->rc) {
        kg_graph_destroy(&job->served);
        kg_graph_destroy(&job->base);
    }
    kg_batch_destroy(&b);
    job->elapsed_ns = kg_query_clock_ns() - t0;
}

static void *reload_main(void *arg)
{
    kg_reload_job *job = arg;
    kg_reload_run(job);
    atomic_store(job->done_flag, true);
    char c = 'r';
    while (write(job->done_fd, &c, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

int kg_server_reload_start(kg_server *s, kg_error *err)
{
    if (s->reloading)
        return kg_error_set(err, KG_EBUSY, "a reload is already running");
    kg_reload_job *job = kg_reload_job_new(s->cfg, s->j != NULL);
    if (!job)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    job->done_fd = s->done_pipe[1];
    job->done_flag = &s->reload_done;
    /* The worker must not take the signals: block them while it is
     * created so that it inherits the mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&s->reload_thread, NULL, reload_main, job);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        kg_reload_job_destroy(&job);
        return kg_error_set(err, KG_ENOMEM, "cannot start the reload thread: %s",
                            strerror(rc));
    }
    s->job = job;
    s->reloading = true;
    kg_server_notify("RELOADING=1");
    kg_log(KG_LOG_INFO, "reloading %zu graph file%s", job->n_paths,
           job->n_paths == 1 ? "" : "s");
    return 0;
}

void kg_server_journal_warn(void *ctx, const char *message)
{
    (void)ctx;
    kg_log(KG_LOG_WARN, "%s", message);
}

int kg_server_reload_defer(kg_server *s, kg_slot *slot, const kg_value *id)
{
    if (s->n_pending == s->cap_pending) {
        size_t nc = s->cap_pending ? s->cap_pending * 2 : 4;
        kg_pending *p = realloc(s->pending, nc * sizeof *p);
        if (!p)
            return KG_ENOMEM;
        s->pending = p;
        s->cap_pending = nc;
    }
    kg_pending *p = &s->pending[s->n_pending];
    p->id = NULL;
    if (id && id->type != KG_VAL_NIL && !(p->id = kg_value_clone(id)))
        return KG_ENOMEM;
    /* Move the envelope (every frame but the body) into the pending
     * entry; the slot keeps empty messages. */
    p->n_frames = slot->n_frames - 1;
    for (size_t i = 0; i < p->n_frames; i++) {
        zmq_msg_init(&p->frames[i]);
        zmq_msg_move(&p->frames[i], &slot->frames[i]);
    }
    s->n_pending++;
    slot->deferred = true;
    return 0;
}

/* Answer every pending reload request with the outcome. */
static void answer_pending(kg_server *s, int rc, const char *message)
{
    kg_writer *w = s->pubw;
    for (size_t i = 0; i < s->n_pending; i++) {
        kg_pending *p = &s->pending[i];
        kg_writer_reset(w);
        if (rc) {
            kg_server_write_error(w, p->id, rc, message);
        } else {
            kg_write_map(w, 3);
            kg_write_str(w, "id");
            kg_write_value(w, p->id);
            kg_write_str(w, "ok");
            kg_write_bool(w, true);
            kg_write_str(w, "result");
            kg_write_map(w, 2);
            kg_write_str(w, "entities");
            kg_write_uint(w, kg_entity_count(s->g));
            kg_write_str(w, "relations");
            kg_write_uint(w, kg_relation_count(s->g));
        }
        size_t len;
        const char *data = kg_writer_data(w, &len);
        if (kg_writer_error(w) == 0)
            kg_server_send(s, p->frames, p->n_frames, data, len);
        for (size_t f = 0; f < p->n_frames; f++)
            zmq_msg_close(&p->frames[f]);
        kg_value_destroy(&p->id);
    }
    s->n_pending = 0;
    kg_writer_reset(w);
}

void kg_server_reload_finish(kg_server *s)
{
    if (!s->reloading)
        return;
    pthread_join(s->reload_thread, NULL);
    s->reloading = false;
    kg_reload_job *job = s->job;
    s->job = NULL;
    int rc = job->rc;
    kg_error err = job->err;
    if (!rc && s->j) {
        /* Client changes on top of the new base. */
        rc = kg_journal_load(s->j, job->served, kg_server_journal_warn, s, &err);
    }
    if (rc) {
        kg_log(KG_LOG_ERROR, "reload failed, keeping the old graph: %s",
               err.message);
        answer_pending(s, rc, err.message);
    } else {
        kg_graph_destroy(&s->g);
        kg_graph_destroy(&s->base);
        s->g = job->served;
        s->base = job->base;
        job->served = job->base = NULL;
        if (s->j) /* later snapshots describe changes against these files */
            kg_journal_set_base_fingerprint(s->j, job->fingerprint);
        s->base_fingerprint = job->fingerprint;
        kg_extractor_destroy(&s->x); /* its gazetteer was the old graph */
        if (!s->j && s->mem_seq)
            kg_log(KG_LOG_WARN, "reload without a data directory: client "
                   "changes made since start-up are gone");
        if (s->rebuild_after_failure) {
            kg_log(KG_LOG_WARN, "graph rebuilt from the files and the journal "
                   "after the journal failure; accepting writes again");
            s->read_only = false;
        }
        s->rebuild_after_failure = false;
        kg_log(KG_LOG_INFO, "reloaded: %zu entities, %zu relations in %.1f ms",
               kg_entity_count(s->g), kg_relation_count(s->g),
               (double)job->elapsed_ns / 1e6);
        answer_pending(s, 0, NULL);
    }
    kg_reload_job_destroy(&job);
    kg_server_notify("READY=1");
}
