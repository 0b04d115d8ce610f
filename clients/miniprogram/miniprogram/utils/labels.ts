// Statuses, parties and history entries in the words residents use (as the H5 page says them).

import type { Ticket, TicketEvent, TicketStatus } from "../api/types";

export const STATUS_NAMES: Record<TicketStatus, string> = {
  received: "已收到",
  routed: "已分派",
  needs_manual: "待人工分派",
  accepted: "已受理",
  in_progress: "处理中",
  resolved: "已办结",
  closed: "已关闭",
  reopened: "重新办理",
  transferred: "已转派",
  merged: "已合并",
  waiting_resident: "待您答复",
};

// linli/parties.py DISPLAY_NAMES; a party outside the default three keeps its id.
const PARTY_NAMES: Record<string, string> = {
  property_manager: "物业",
  owners_committee: "业委会",
  street_office: "街道/社区",
};

export function partyName(party: string): string {
  return party ? (PARTY_NAMES[party] ?? party) : "";
}

export function statusName(status: TicketStatus): string {
  return STATUS_NAMES[status] ?? status;
}

/** Who has the ticket and what they are doing, in one plain sentence. */
export function handlingSentence(ticket: Ticket): string {
  const party = partyName(ticket.party);
  switch (ticket.status) {
    case "received":
      return "已收到,正在确定由谁负责";
    case "needs_manual":
      return "社区工作人员正在确定由谁办理";
    case "routed":
      return `已交给${party}办理,等待受理`;
    case "accepted":
      return `${party}已受理`;
    case "in_progress":
      return `${party}正在处理`;
    case "transferred":
      return `已转交${party}办理`;
    case "resolved":
      return `${party}已办结,请您评价`;
    case "closed":
      return `${party || "负责方"}已办结`;
    case "reopened":
      return `重新办理中,由${party}负责`;
    case "merged":
      return "与邻居反映的同一问题一起办理";
    case "waiting_resident":
      return `${party}想向您了解情况,请在下方对话里回复`;
  }
}

export interface EventWords {
  title: string;
  detail: string;
}

/** One history entry as the resident reads it. */
export function eventWords(event: TicketEvent): EventWords {
  const to = partyName(event.to_party);
  const say = (title: string, detail = ""): EventWords => ({ title, detail });
  switch (event.kind) {
    case "received":
      return say("已收到您的反映");
    case "routed":
      return say(`已交给${to}办理`, event.note ? `为什么是${to}:${event.note}` : "");
    case "needs_manual":
      return say("社区工作人员正在确定由谁办理");
    case "dispatched":
      return say(`社区已交给${to}办理`, event.note);
    case "accepted":
      return say(`${partyName(event.party || event.to_party)}已受理`);
    case "started":
      return say(`${partyName(event.party)}开始处理`);
    case "transferred":
      return say(`已转交${to}办理`, event.note);
    case "resolved":
      return say("已办结", event.note);
    case "rated":
      return say("您的评价", event.note);
    case "reopened":
      return say("重新办理", event.note);
    case "auto_closed":
      return say("回访期满,已办结", "如问题仍在,可以申请重新办理");
    case "escalated":
    case "at_top_level":
      return say("已升级督办", event.note);
    case "merged":
    case "duplicate_linked":
      return say("与邻居反映的同一问题一起办理");
    case "unmerged":
    case "duplicate_unlinked":
      return say("改为单独办理");
    case "split":
      return say("您反映的另一个问题已单独立单办理", "可在“我的反映”里查看");
    case "split_off":
      return say("从您的一条反映中单独立单办理");
    case "personal_data_erased":
      return say("个人信息已删除");
    case "asked_resident":
      return say(`${partyName(event.party)}向您提问`, "请在下方对话里回复,答复前办理时限暂停");
    case "resident_answered":
      return say("您已答复,继续办理", event.note);
    default:
      return say(event.kind, event.note);
  }
}

/** A resolved ticket, or one closed before the resident rated it, can still be rated (0 means not yet). */
export function canRate(ticket: Ticket): boolean {
  return ticket.status === "resolved" || (ticket.status === "closed" && ticket.rating === 0);
}

export function canReopen(ticket: Ticket): boolean {
  return ticket.status === "resolved" || ticket.status === "closed";
}
