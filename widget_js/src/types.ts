// The shapes the Python side sends (see src/tracemark/review/payload.py and widget.py).

/** A text: the string itself, or a preview of a longer one whose full text can be fetched. */
export type Text = string | Preview;
export interface Preview {
  preview: string;
  length: number;
  ref: unknown[];
}

export interface ToolCall {
  id?: string;
  name?: string;
  arguments?: Text;
}

export interface Message {
  role?: string;
  name?: string;
  tool_call_id?: string;
  content?: Text;
  tool_calls?: ToolCall[];
}

export interface Doc {
  id?: string;
  score?: number;
  content?: Text;
  metadata?: Text;
}

export interface Evaluation {
  name?: string;
  score?: number;
  label?: string;
  explanation?: Text;
  annotator_kind?: string;
  source?: string;
  author?: string;
  created_at?: string;
}

export interface SpanDetail {
  position: number;
  trace_id?: string;
  span_id?: string;
  name?: string;
  kind?: string;
  kind_raw?: string;
  status?: string;
  status_message?: Text;
  start_time?: string;
  end_time?: string;
  duration_ms?: number;
  model?: string;
  provider?: string;
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  cost_usd?: number;
  input?: Text;
  output?: Text;
  input_messages?: Message[];
  output_messages?: Message[];
  tool_name?: string;
  tool_arguments?: Text;
  tool_result?: Text;
  documents?: Doc[];
  session_id?: string;
  user_id?: string;
  tags?: string[];
  metadata?: Text;
  attributes?: Text;
  source_format?: string;
  evaluations?: Evaluation[];
}

/** The span tree as columns in display (depth-first) order. */
export interface SpanColumns {
  id: string[];
  name: (string | null)[];
  kind: (string | null)[];
  status: (string | null)[];
  start: (number | null)[];
  dur: (number | null)[];
  model: (string | null)[];
  tokens: (number | null)[];
  evals: number[];
  parent: number[];
  depth: number[];
  trace?: string[];
}

export interface TraceSummary {
  trace_id?: string;
  name?: string;
  status?: string;
  duration_ms?: number;
  error_count?: number;
  session_id?: string;
  user_id?: string;
  tags?: string[];
  models?: string[];
  n_spans?: number;
  n_traces?: number;
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  cost_usd?: number;
  start_time?: string;
  input?: Text;
  output?: Text;
  metadata?: Text;
  /** Per evaluation name over the item: mean score, first label, count, first span. */
  evals?: { name: string; score?: number; label?: string; count?: number; span?: number }[];
}

export interface Saved {
  values?: Record<string, unknown>;
  reasoning?: Record<string, string>;
  assessment?: Record<string, string | boolean | null>;
  submitted?: boolean;
  saved_at?: string;
}

/** Where the current item sits: its queue item (review) or its place in the list (view). */
export interface ItemInfo {
  item_id?: string;
  kind?: string;
  trace_id?: string;
  span_id?: string | null;
  session_id?: string | null;
  index: number;
  count: number | null;
  has_prev: boolean;
  has_next: boolean;
  saved?: Saved;
  state?: string;
}

export interface Payload {
  version: number;
  trace: TraceSummary;
  traces?: string[] | null;
  evaluations: Evaluation[];
  spans: SpanColumns;
  details: (SpanDetail | null)[];
  focus: number | null;
  item?: ItemInfo;
  payload_id?: string;
  /** Set when the item's trace is not in the traces the widget was given. */
  missing?: string;
}

export type LabelType = "score" | "categorical" | "boolean" | "text";

export interface LabelDef {
  name: string;
  type: LabelType;
  description?: string;
  required?: boolean;
  reasoning?: boolean;
  assessment?: boolean;
  min?: number | null;
  max?: number | null;
  integer?: boolean;
  values?: string[];
  multiple?: boolean;
}

export interface Schema {
  labels: LabelDef[];
  guidelines?: string;
  version?: number | null;
}

export interface FieldError {
  label?: string | null;
  value?: unknown;
  expected?: string;
  message: string;
}

export interface Progress {
  total?: number;
  completed?: number;
  mine?: number;
  remaining?: number;
  [key: string]: unknown;
}

export interface Status {
  state?: "loading" | "ready" | "done" | "empty" | "error";
  message?: string;
}

export interface ListingRow {
  trace_id: string;
  name?: string | null;
  status?: string | null;
  duration_ms?: number | null;
  n_spans?: number | null;
  start_time?: string | null;
  error_count?: number | null;
  input?: string | null;
}

export interface Listing {
  rows: ListingRow[];
  total: number;
  offset: number;
  page_size: number;
  rule?: string;
  error?: string | null;
  current?: string | null;
}

/** A command's answer: ok, or an error message (and per-label errors for saves). */
export interface Reply {
  ok: boolean;
  error?: string;
  errors?: FieldError[];
  [key: string]: unknown;
}

export type Values = Record<string, unknown>;
