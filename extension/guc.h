/*
 * guc.h
 *     pg_ark's configuration parameters (pg_ark.*), defined once in _PG_init.
 */
#ifndef PG_ARK_EXTENSION_GUC_H
#define PG_ARK_EXTENSION_GUC_H

extern char *pg_ark_cluster;        /* section name of this cluster in the helper's config */
extern char *pg_ark_socket_path;    /* the helper's Unix socket */
extern int pg_ark_request_timeout;  /* ms to wait for the helper before giving up */

void DefinePgArkGucs(void);

#endif
