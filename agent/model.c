// SPDX-License-Identifier: Apache-2.0
/* Lookups in the cluster model. Linear: a node's store holds few objects. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

const struct ew_node *ew_model_node(const struct ew_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_nodes; i++)
		if (!strcmp(m->nodes[i].name, name))
			return &m->nodes[i];
	return NULL;
}

const struct ew_namespace *ew_model_namespace(const struct ew_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_namespaces; i++)
		if (!strcmp(m->namespaces[i].name, name))
			return &m->namespaces[i];
	return NULL;
}

const struct ew_pod *ew_model_pod(const struct ew_model *m, const char *ns,
				  const char *name)
{
	for (size_t i = 0; i < m->n_pods; i++)
		if (!strcmp(m->pods[i].namespace, ns) && !strcmp(m->pods[i].name, name))
			return &m->pods[i];
	return NULL;
}

const char *ew_labels_get(const struct ew_labels *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->items[i].key, key))
			return l->items[i].value;
	return NULL;
}

const struct ew_service *ew_model_service(const struct ew_model *m, const char *ns,
					  const char *name)
{
	for (size_t i = 0; i < m->n_services; i++)
		if (!strcmp(m->services[i].namespace, ns) &&
		    !strcmp(m->services[i].name, name))
			return &m->services[i];
	return NULL;
}

bool ew_labels_match(const struct ew_labels *selector, const struct ew_labels *labels)
{
	for (size_t i = 0; i < selector->n; i++) {
		const char *v = ew_labels_get(labels, selector->items[i].key);

		if (!v || strcmp(v, selector->items[i].value))
			return false;
	}
	return true;
}

static bool value_in(const struct ew_selector_expr *e, const char *v)
{
	for (size_t i = 0; i < e->n_values; i++)
		if (!strcmp(e->values[i], v))
			return true;
	return false;
}

static bool expr_holds(const struct ew_selector_expr *e, const struct ew_labels *labels)
{
	const char *v = ew_labels_get(labels, e->key);

	switch (e->op) {
	case EW_SELECTOR_IN: return v && value_in(e, v);
	case EW_SELECTOR_NOT_IN: return !v || !value_in(e, v);
	case EW_SELECTOR_EXISTS: return v != NULL;
	case EW_SELECTOR_DOES_NOT_EXIST: return v == NULL;
	}
	return false;
}

bool ew_selector_match(const struct ew_selector *sel, const struct ew_labels *labels)
{
	if (!ew_labels_match(&sel->match_labels, labels))
		return false;
	for (size_t i = 0; i < sel->n_exprs; i++)
		if (!expr_holds(&sel->exprs[i], labels))
			return false;
	return true;
}

void ew_policy_port_free(struct ew_policy_port *p)
{
	for (size_t i = 0; i < p->n_http; i++) {
		struct ew_http_match *h = &p->http[i];

		free(h->method);
		free(h->path);
		free(h->host);
		for (size_t k = 0; k < h->n_headers; k++)
			free(h->headers[k]);
		free(h->headers);
	}
	free(p->http);
	free(p->name);
}
