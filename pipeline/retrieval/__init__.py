"""Reading a user's memories back: snippets for a query, and answers to a question.

Modules, in the order the data moves:

- `lexical`: BM25 over the user's chunk rows in PostgreSQL;
- `search`: the query embedded and searched in the vector index beside the
  lexical ranking, the two fused, the chunks shown from their points;
- `answers`: a question answered from the best chunks, extractively or by the
  configured LLM.

Worker side only (it embeds queries and reads the index); the gateway sends
these reads to the process that holds the index and waits for the reply.
"""
