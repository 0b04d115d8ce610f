// 反映详情: status and who handles it in plain Chinese, the timeline, the conversation, rating and reopening.

import { describeError } from "../../api/errors";
import { listTicketMessages, postTicketMessage } from "../../api/messages";
import { getTicket, rateTicket, reopenTicket } from "../../api/tickets";
import type { Ticket, TicketMessage } from "../../api/types";
import { config } from "../../config";
import { formatTime } from "../../utils/format";
import { canRate, canReopen, eventWords, handlingSentence, partyName, statusName } from "../../utils/labels";

interface TimelineEntry {
  key: string;
  when: string;
  title: string;
  detail: string;
}

interface MessageView {
  id: string;
  mine: boolean;
  /** A worker's question waiting for this resident's answer. */
  question: boolean;
  who: string;
  text: string;
  when: string;
  photos: string[];
}

interface TicketView {
  id: string;
  status: string;
  statusName: string;
  handling: string;
  text: string;
  place: string;
  created: string;
  duplicateNotice: string;
  urgencyNotice: string;
  resolution: string;
  photos: string[];
  /** The workers' photos of the work done, attached when they resolved the ticket. */
  afterPhotos: string[];
  rating: number;
}

// What the page keeps between events without rendering it.
interface Follow {
  ticketId: string;
  poll: ReturnType<typeof setTimeout> | undefined;
  /** After-photos of the ticket and of the workers' messages: the page shows them together. */
  ticketAfter: string[];
  messageAfter: string[];
}

const follows = new WeakMap<object, Follow>();

function followOf(page: object): Follow {
  let follow = follows.get(page);
  if (!follow) {
    follow = { ticketId: "", poll: undefined, ticketAfter: [], messageAfter: [] };
    follows.set(page, follow);
  }
  return follow;
}

function stopPolling(follow: Follow): void {
  if (follow.poll !== undefined) clearTimeout(follow.poll);
  follow.poll = undefined;
}

function ticketView(ticket: Ticket): TicketView {
  return {
    id: ticket.id,
    status: ticket.status,
    statusName: statusName(ticket.status),
    handling: handlingSentence(ticket),
    text: ticket.text,
    place: [ticket.community, ticket.building].filter(Boolean).join(" · "),
    created: formatTime(ticket.created_at),
    duplicateNotice: ticket.duplicate_notice,
    urgencyNotice: ticket.urgency_notice,
    resolution: ticket.resolution,
    photos: ticket.attachment_urls.concat(photoUrls(ticket, "before")),
    afterPhotos: photoUrls(ticket, "after"),
    rating: ticket.rating,
  };
}

function photoUrls(ticket: Ticket, kind: "before" | "after"): string[] {
  return (ticket.attachments ?? []).filter((photo) => photo.kind === kind).map((photo) => photo.url);
}

function timeline(ticket: Ticket): TimelineEntry[] {
  return ticket.events.map((event, index) => ({ key: `${index}`, when: formatTime(event.at), ...eventWords(event) }));
}

function messageView(message: TicketMessage): MessageView {
  const mine = message.author === "resident";
  const who = mine ? "我" : partyName(message.party) || "工作人员";
  return {
    id: message.id,
    mine,
    question: message.asks_resident,
    who,
    text: message.text,
    when: formatTime(message.created_at),
    photos: message.attachment_urls,
  };
}

/** Photos the people handling the ticket sent: what it looks like after the work. */
function afterPhotos(messages: TicketMessage[]): string[] {
  return messages.filter((m) => m.author === "worker").reduce<string[]>((all, m) => all.concat(m.attachment_urls), []);
}

Component({
  data: {
    loaded: false,
    ticket: null as TicketView | null,
    timeline: [] as TimelineEntry[],
    canRate: false,
    canReopen: false,
    score: 0,
    comment: "",
    reopenReason: "",
    acting: false,
    error: "",
    messages: [] as MessageView[],
    afterPhotos: [] as string[],
    conversationProblem: "",
    draftMessage: "",
  },

  methods: {
    onLoad(query: Record<string, string | undefined>): void {
      followOf(this).ticketId = query.id ?? "";
      this.load();
      this.loadMessages();
    },

    onUnload(): void {
      stopPolling(followOf(this));
    },

    onPullDownRefresh(): void {
      Promise.all([this.load(), this.loadMessages()]).then(() => wx.stopPullDownRefresh());
    },

    show(ticket: Ticket): void {
      const follow = followOf(this);
      const view = ticketView(ticket);
      follow.ticketAfter = view.afterPhotos;
      this.setData({
        loaded: true,
        ticket: view,
        afterPhotos: follow.ticketAfter.concat(follow.messageAfter),
        timeline: timeline(ticket),
        canRate: canRate(ticket),
        canReopen: canReopen(ticket),
        error: "",
      });
    },

    async load(): Promise<void> {
      const follow = followOf(this);
      stopPolling(follow);
      try {
        const ticket = await getTicket(follow.ticketId);
        this.show(ticket);
        // Triage takes seconds: keep the resident's screen moving until someone owns the ticket.
        if (ticket.status === "received") follow.poll = setTimeout(() => this.load(), config.triagePollMs);
      } catch (error) {
        this.setData({ loaded: true, error: describeError(error) });
      }
    },

    async loadMessages(): Promise<void> {
      try {
        const follow = followOf(this);
        const { messages } = await listTicketMessages(follow.ticketId);
        follow.messageAfter = afterPhotos(messages);
        this.setData({
          messages: messages.map(messageView),
          afterPhotos: follow.ticketAfter.concat(follow.messageAfter),
          conversationProblem: "",
        });
      } catch (error) {
        this.setData({ conversationProblem: `对话暂时看不到:${describeError(error)}` });
      }
    },

    onScoreChange(event: { detail: number }): void {
      this.setData({ score: event.detail });
    },

    onCommentChange(event: { detail: string }): void {
      this.setData({ comment: event.detail });
    },

    onReopenReasonChange(event: { detail: string }): void {
      this.setData({ reopenReason: event.detail });
    },

    onDraftMessageChange(event: { detail: string }): void {
      this.setData({ draftMessage: event.detail });
    },

    // One action at a time; whatever the server answers replaces the ticket shown.
    async act(send: () => Promise<Ticket>): Promise<void> {
      if (this.data.acting) return;
      this.setData({ acting: true, error: "" });
      try {
        this.show(await send());
      } catch (error) {
        this.setData({ error: describeError(error) });
      } finally {
        this.setData({ acting: false });
      }
    },

    onRate(): Promise<void> {
      const { score, comment } = this.data;
      if (score < 1) {
        this.setData({ error: "请先选择星级。" });
        return Promise.resolve();
      }
      return this.act(() => rateTicket(followOf(this).ticketId, score, comment.trim()));
    },

    onReopen(): Promise<void> {
      const reason = this.data.reopenReason.trim();
      if (reason.length < 2) {
        this.setData({ error: "请写一下还有什么问题(至少两个字)。" });
        return Promise.resolve();
      }
      return this.act(() => reopenTicket(followOf(this).ticketId, reason));
    },

    async onSendMessage(): Promise<void> {
      const text = this.data.draftMessage.trim();
      if (!text) return;
      try {
        const posted = await postTicketMessage(followOf(this).ticketId, { text });
        this.setData({ draftMessage: "" });
        // An answer to a question puts the ticket back to work: show its status and timeline as they are now.
        this.show(posted.ticket);
        await this.loadMessages();
      } catch (error) {
        this.setData({ conversationProblem: `没有发出去:${describeError(error)}` });
      }
    },

    onPreviewPhoto(event: WechatMiniprogram.BaseEvent<Record<string, never>, { url: string; group: string }>): void {
      const { url, group } = event.currentTarget.dataset;
      const urls = group === "after" ? this.data.afterPhotos : (this.data.ticket?.photos ?? []);
      wx.previewImage({ current: url, urls });
    },
  },
});
